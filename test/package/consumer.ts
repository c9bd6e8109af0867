/**
 * The throwaway consumer project of pack.spec.ts: what a stranger writes after
 * `npm install rxsync rxjs localforage`. Kept as text because these files import the *installed*
 * package; compiled here, inside the repository, `rxsync` would resolve to the work tree instead.
 */

/**
 * Node: both entry points import, one write is flushed to the server at argv[2], then pulled
 * back; eventSourcePoke without the optional eventsource package says what to install.
 */
export const RUN_MJS = `
import { createSyncEngine, eventSourcePoke, httpTransport, memoryStorage } from 'rxsync';
import { dedupe, retryBackoff } from 'rxsync/operators';

if (typeof dedupe !== 'function' || typeof retryBackoff !== 'function') throw new Error('rxsync/operators is incomplete');
const pulled = [];
const engine = createSyncEngine({
  entities: { todos: { endpoint: '/todos' } },
  transport: httpTransport({ baseUrl: process.argv[2] }),
  storage: memoryStorage(),
  onPull: (entity, items) => { pulled.push(...items); },
});
await engine.write({ entity: 'todos', operation: 'create', data: { id: 'from-the-tarball', title: 'installed' } });
const flushed = await engine.flush();
const pull = await engine.pull();
engine.destroy();
const pokeError = await new Promise((resolve) => eventSourcePoke(process.argv[2] + '/_events').subscribe({ error: (error) => resolve(error.message) }));
console.log(JSON.stringify({ flushed, pull, pulled, pokeError }));
`;

/** Types: every use here must resolve through the published .d.ts files of both entry points. */
export const CHECK_TS = `
import localforage from 'localforage';
import { Subject, of } from 'rxjs';
import {
  createSyncEngine,
  eventSourcePoke,
  httpTransport,
  SyncHttpError,
  type SyncEngine,
  type SyncStatusInfo,
  type SyncWrite,
} from 'rxsync';
import { backoffDelay, dedupe, Outbox, resolveConflict, retryBackoff, whenOnline, type OutboxCommand } from 'rxsync/operators';

const engine: SyncEngine = createSyncEngine({
  entities: { todos: { endpoint: '/todos', conflictStrategy: 'last-write-wins' } },
  transport: httpTransport({ baseUrl: 'https://api.example.com' }),
  storage: localforage.createInstance({ name: 'consumer' }),
});
const write: SyncWrite = { entity: 'todos', operation: 'create', data: { id: '1' } };
const queued: Promise<{ id: string; retryCount: number }> = engine.write(write);
const status: (info: SyncStatusInfo) => string = (info) => info.status;
engine.status$.subscribe((info) => status(info));
void queued;
const pokes: import('rxjs').Observable<string> = eventSourcePoke('https://api.example.com/_events', { headers: () => ({ Authorization: 'Bearer t' }) });
createSyncEngine({ entities: { todos: { endpoint: '/todos' } }, transport: httpTransport({ baseUrl: 'https://api.example.com' }), poke$: pokes });

const commands = new Subject<OutboxCommand>();
commands.pipe(dedupe({ outbox: new Outbox() })).subscribe();
const delay: number = backoffDelay(1, { baseDelayMs: 100, jitter: 0 });
of(1).pipe(whenOnline(of(true)), retryBackoff({ maxRetries: 2, baseDelayMs: delay })).subscribe();
of().pipe(resolveConflict({ strategy: 'server-wins' })).subscribe();
const error: Error = new SyncHttpError('[rxsync] busy', 503);
void error;
`;

/** The same check under each module resolution a consumer may use. */
export function tsconfig(moduleResolution: 'bundler' | 'nodenext'): string {
  return JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: moduleResolution === 'bundler' ? 'ESNext' : 'NodeNext',
        moduleResolution,
        lib: ['ES2022', 'DOM'],
        // No @types/node: a browser app must not need Node's types to use rxsync.
        types: [],
        strict: true,
        // The published .d.ts files are checked too, not only their use.
        skipLibCheck: false,
        noEmit: true,
      },
      files: ['check.ts'],
    },
    null,
    2,
  );
}
