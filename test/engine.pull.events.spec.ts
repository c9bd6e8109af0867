import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

// Found by mutation testing of the puller: no test looked at what events$ says about a pull.
describe('engine: what events$ says about pulls', () => {
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
});
