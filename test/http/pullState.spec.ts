import { describe, expect, it } from 'vitest';
import { of } from 'rxjs';
import { createSyncEngine, type PullRequest, type SyncTransport } from '../../src/index.js';
import { freshStorage } from '../support/engineHarness.js';

/** A transport whose pulls hand back a counter as state, recording what each pull was given. */
function countingTransport() {
  const asked: Omit<PullRequest, 'entity' | 'endpoint'>[] = [];
  const transport: SyncTransport = {
    push: () => of({ status: 200, body: {} }),
    pull: ({ since, state }) => {
      asked.push({ since, state });
      const n = ((state as { n?: number } | undefined)?.n ?? 0) + 1;
      return of({ items: [{ id: String(n) }], checkpoint: `c${n}`, state: { n } });
    },
  };
  return { transport, asked };
}

describe('the transport state the puller keeps with the checkpoint', () => {
  it('is stored with the checkpoint only after onPull resolved, handed back on the next pull, and survives a restart', async () => {
    const storage = freshStorage();
    const { transport, asked } = countingTransport();
    let failing = true;
    const engine = createSyncEngine<'todos'>({
      entities: { todos: { endpoint: '/todos' } },
      transport,
      storage,
      online$: of(true),
      autoPull: false,
      onPull: () => {
        if (failing) throw new Error('local db busy');
      },
    });
    expect(await engine.pull()).toMatchObject({ success: false });
    expect(await storage.getItem('rxsync:checkpoint:todos')).toBeNull();
    failing = false;
    await engine.pull();
    expect(await storage.getItem('rxsync:checkpoint:todos')).toEqual({ v: 1, checkpoint: 'c1', state: { n: 1 } });
    await engine.pull();
    engine.destroy();

    const restarted = createSyncEngine<'todos'>({ entities: { todos: { endpoint: '/todos' } }, transport, storage, online$: of(true), autoPull: false });
    await restarted.pull();
    restarted.destroy();
    expect(asked).toEqual([
      { since: undefined, state: undefined },
      { since: undefined, state: undefined },
      { since: 'c1', state: { n: 1 } },
      { since: 'c2', state: { n: 2 } },
    ]);
  });
});
