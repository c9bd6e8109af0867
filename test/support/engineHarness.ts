import localforage from 'localforage';
import { BehaviorSubject, filter, firstValueFrom } from 'rxjs';
import { createSyncEngine, httpTransport, type SyncEngine, type SyncEngineOptions, type SyncEvent } from '../../src/index.js';
import { API } from './restApi.js';

let dbCount = 0;

/** A fresh localforage database (on fake-indexeddb) per call: tests never share storage by accident. */
export function freshStorage() {
  return localforage.createInstance({ name: `rxsync-test-${process.pid}-${++dbCount}` });
}

export type TestEngine = SyncEngine<'todos' | 'notes'> & { network: BehaviorSubject<boolean>; seen: SyncEvent[] };

/** An engine on the msw REST API with tiny, jitter-free backoff; online unless told otherwise. */
export function testEngine(options: Partial<SyncEngineOptions<'todos' | 'notes'>> & { startOnline?: boolean } = {}): TestEngine {
  const network = new BehaviorSubject(options.startOnline ?? true);
  const engine = createSyncEngine<'todos' | 'notes'>({
    entities: {
      todos: { endpoint: '/todos', conflictStrategy: 'server-wins' },
      notes: { endpoint: '/notes', conflictStrategy: 'client-wins' },
    },
    transport: httpTransport({ baseUrl: API }),
    storage: freshStorage(),
    online$: network,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 5,
    retryJitter: 0,
    maxRetries: 3,
    // The msw API answers pushes only; specs of pulling turn pulls on themselves.
    autoPull: false,
    ...options,
  });
  const seen: SyncEvent[] = [];
  engine.events$.subscribe((event) => seen.push(event));
  return Object.assign(engine, { network, seen });
}

/** Resolves when the engine has nothing left to send. */
export async function drained<E extends string>(engine: SyncEngine<E>): Promise<unknown> {
  await engine.ready;
  return firstValueFrom(engine.status$.pipe(filter((s) => s.queueLength === 0 && s.inFlight === 0)));
}
