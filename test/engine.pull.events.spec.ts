import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

// Found by mutation testing of the puller: no test looked at what events$ and status$ say about a pull.
describe('engine: what events$ and status$ say about pulls', () => {
  const pages = () =>
    api.server.use(
      http.get(`${API}/:entity`, ({ params }) =>
        HttpResponse.json(params.entity === 'todos' ? { items: [{ id: '1' }, { id: '2' }], checkpoint: 'c2' } : { items: [], checkpoint: 'n0' }),
      ),
    );

  it('each page pulled: its entity, how many records, and the checkpoint it moved to', async () => {
    pages();
    const engine = testEngine();
    await engine.pull();
    expect(engine.seen.filter((e) => e.type === 'pulled')).toEqual(
      expect.arrayContaining([
        { type: 'pulled', entity: 'todos', count: 2, checkpoint: 'c2' },
        { type: 'pulled', entity: 'notes', count: 0, checkpoint: 'n0' },
      ]),
    );
    engine.destroy();
  });

  it('an onPull that throws fails that entity\'s pull, and the message says its checkpoint stays', async () => {
    pages();
    const engine = testEngine({
      onPull: (entity) => {
        if (entity === 'todos') throw new Error('disk full');
      },
    });
    const result = await engine.pull();
    expect(result).toMatchObject({ success: false, errors: 1 });
    expect(engine.seen.find((e) => e.type === 'pull-failed')).toMatchObject({
      entity: 'todos',
      error: expect.stringContaining('onPull threw for "todos", so its checkpoint stays where it was: disk full'),
    });
    engine.destroy();
  });

  it('status$ is syncing while a pull is under way, idle once it is done', async () => {
    let release!: () => void;
    let asked!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const arrived = new Promise<void>((resolve) => (asked = resolve));
    api.server.use(
      http.get(`${API}/:entity`, async () => {
        asked();
        await held;
        return HttpResponse.json({ items: [] });
      }),
    );
    const engine = testEngine();
    await engine.ready;
    const pulling = engine.pull();
    await arrived;
    expect(engine.getStatus()).toMatchObject({ status: 'syncing', queueLength: 0 });
    release();
    await pulling;
    expect(engine.getStatus()).toMatchObject({ status: 'idle', queueLength: 0 });
    engine.destroy();
  });
});
