import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { httpTransport } from '../src/index.js';
import { drained, testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

const cyclic: Record<string, unknown> = { id: 'c' };
cyclic.self = cyclic;

const bad: [string, unknown, RegExp][] = [
  ['not an object', 'hello', /A write must be an object \{ entity, operation, data \}, got "hello"/],
  ['unknown entity', { entity: 'users', operation: 'create', data: {} }, /Unknown entity "users"\. Known entities: todos, notes; add it to options\.entities/],
  ['unknown operation', { entity: 'todos', operation: 'upsert', data: { id: '1' } }, /Unknown operation "upsert" for "todos"\. Use 'create', 'update' or 'delete'/],
  ['update without id', { entity: 'todos', operation: 'update', data: { title: 'x' } }, /A update on "todos" needs data\.id/],
  ['delete without id', { entity: 'todos', operation: 'delete', data: {} }, /A delete on "todos" needs data\.id/],
  ['a function', { entity: 'todos', operation: 'create', data: { id: '1', onClick: () => 1 } }, /data\.onClick of a write to "todos" is a function, which JSON cannot carry/],
  ['a cycle', { entity: 'todos', operation: 'create', data: cyclic }, /data\.self of a write to "todos" refers back to itself \(a cycle\)/],
  ['a BigInt', { entity: 'todos', operation: 'create', data: { id: '1', n: 10n } }, /data\.n of a write to "todos" is a bigint/],
  ['a Map', { entity: 'todos', operation: 'create', data: { id: '1', tags: new Map() } }, /data\.tags of a write to "todos" is a Map, which JSON cannot carry faithfully/],
  ['NaN', { entity: 'todos', operation: 'create', data: { id: '1', n: Number.NaN } }, /data\.n of a write to "todos" is NaN/],
  ['data not an object', { entity: 'todos', operation: 'create', data: [1, 2] }, /must be an object, got an array/],
  ['id ".."', { entity: 'todos', operation: 'delete', data: { id: '..' } }, /data\.id of a delete on "todos" is "\.\.", which a URL cannot carry.*Use another id/],
  ['id "."', { entity: 'todos', operation: 'update', data: { id: '.' } }, /data\.id of a update on "todos" is "\.", which a URL cannot carry/],
  ['id "%2e%2e"', { entity: 'todos', operation: 'update', data: { id: '%2e%2e' } }, /is "%2e%2e", which a URL cannot carry/],
  ['an empty id', { entity: 'todos', operation: 'create', data: { id: '' } }, /data\.id of a create on "todos" must be a non-empty string or a number, got ""/],
  ['an id with a lone surrogate', { entity: 'todos', operation: 'update', data: { id: '👍x'.slice(1) } }, /data\.id of a write to "todos" contains a lone surrogate.*Fix the string/],
];

describe('engine: bad input', () => {
  it('an entity that is not configured does not compile in write() or push()', async () => {
    const engine = testEngine({ startOnline: false });
    // @ts-expect-error 'todo' is not one of the configured entities ('todos' | 'notes')
    await expect(engine.write({ entity: 'todo', operation: 'create', data: { id: '1' } })).rejects.toThrow(/Unknown entity "todo"/);
    // @ts-expect-error the same for push()
    await expect(engine.push('todo', { id: '1' })).rejects.toThrow(/Unknown entity "todo"/);
    engine.destroy();
  });

  it.each(bad)('write() rejects %s with a SyncInputError that says what to do; other writes are kept', async (_name, write, message) => {
    const engine = testEngine({ startOnline: false });
    await engine.write({ entity: 'todos', operation: 'create', data: { id: 'good' } });
    const error = await engine.write(write as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'SyncInputError', message: expect.stringMatching(/^\[rxsync\] /) });
    expect((error as Error).message).toMatch(message);
    expect(engine.getQueueLength()).toBe(1);
    engine.destroy();
  });

  it('a bad write on writes$ is reported on events$ and status, dropped, and the subject keeps working', async () => {
    const engine = testEngine();
    engine.writes$.next({ entity: 'users', operation: 'create', data: {} });
    engine.writes$.next({ entity: 'todos', operation: 'create', data: { id: '1' } });
    await drained(engine);
    expect(engine.seen.find((e) => e.type === 'input-dropped')).toMatchObject({
      write: { entity: 'users' },
      error: expect.stringMatching(/^\[rxsync\] Unknown entity "users"/),
    });
    expect(engine.getStatus().lastError).toBeUndefined(); // cleared by the successful push after it
    expect(api.records.has('todos/1')).toBe(true);
    engine.destroy();
  });

  it('writes$.error() and complete() from outside do not stop the input', async () => {
    const engine = testEngine();
    engine.writes$.error(new Error('upstream broke'));
    engine.writes$.complete();
    engine.writes$.next({ entity: 'todos', operation: 'create', data: { id: '1' } });
    await drained(engine);
    expect(api.records.has('todos/1')).toBe(true);
    expect(engine.seen.filter((e) => e.type === 'input-dropped').map((e) => e.type === 'input-dropped' && e.error)).toEqual([
      expect.stringMatching(/writes\$\.error\(\) was called/),
      expect.stringMatching(/writes\$\.complete\(\) was called; writes\$ stays open\. Call engine\.destroy\(\)/),
    ]);
    engine.destroy();
  });

  it('the queue keeps its own copy: changing the object after write() changes nothing', async () => {
    const engine = testEngine({ startOnline: false });
    const data = { id: '1', title: 'milk' };
    await engine.write({ entity: 'todos', operation: 'create', data });
    data.title = 'changed later';
    engine.network.next(true);
    await drained(engine);
    expect(api.records.get('todos/1')).toEqual({ id: '1', title: 'milk' });
    engine.destroy();
  });

  it('a write after destroy() is rejected; one on writes$ is ignored', async () => {
    const engine = testEngine();
    engine.destroy();
    await expect(engine.push('todos', { id: '1' })).rejects.toMatchObject({ name: 'SyncInputError' });
    expect(() => engine.writes$.next({ entity: 'todos', operation: 'create', data: { id: '1' } })).not.toThrow();
  });

  it('clearQueue() and reprocessFailed() after destroy() are rejected, saying so', async () => {
    const engine = testEngine();
    await engine.ready;
    engine.destroy();
    const refused = { name: 'SyncInputError', message: '[rxsync] The engine was destroyed first, so this changed nothing in its outbox. Create a new engine to go on.' };
    await expect(engine.clearQueue()).rejects.toMatchObject(refused);
    await expect(engine.reprocessFailed()).rejects.toMatchObject(refused);
  });

  it('a __proto__ key parsed from JSON goes on the wire as data and never changes the id or version', async () => {
    api.records.set('todos/a', { id: 'a' });
    const engine = testEngine({ startOnline: false });
    await engine.write({ entity: 'todos', operation: 'update', data: JSON.parse('{"id":"a","__proto__":{"id":"b","version":3}}') });
    engine.network.next(true);
    await drained(engine);
    expect(api.requests.map((r) => ({ method: r.method, path: r.path, ifMatch: r.ifMatch, body: JSON.stringify(r.body) }))).toEqual([
      { method: 'PATCH', path: '/todos/a', ifMatch: null, body: '{"id":"a","__proto__":{"id":"b","version":3}}' },
    ]);
    engine.destroy();
  });

  it('a headers getter that throws once fails one attempt only: that write is retried and delivered, the others flow', async () => {
    let calls = 0;
    const headers = () => {
      if (++calls === 1) throw new Error('token store not ready');
      return { Authorization: 'Bearer t' };
    };
    const engine = testEngine({ transport: httpTransport({ baseUrl: API, headers }) });
    await Promise.all(['1', '2'].map((id) => engine.write({ entity: 'todos', operation: 'create', data: { id } })));
    await drained(engine);
    expect([...api.records.keys()].sort()).toEqual(['todos/1', 'todos/2']);
    expect(engine.seen.filter((e) => e.type === 'retried')).toEqual([
      expect.objectContaining({ error: '[rxsync] options.headers failed, so the request was not sent: token store not ready.' }),
    ]);
    expect(engine.getStatus()).toMatchObject({ failedCount: 0, queueLength: 0 });
    engine.destroy();
  });

  it('push() and delete() are write() with defaults', async () => {
    const engine = testEngine({ startOnline: false });
    await engine.push('todos', { id: '1', title: 'a' });
    await engine.push('todos', { id: '1', title: 'b' }, 'update');
    await engine.push('notes', { id: '2' });
    await engine.delete('notes', '2');
    engine.network.next(true);
    await drained(engine);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /todos']);
    expect(api.records.get('todos/1')).toEqual({ id: '1', title: 'b' });
    engine.destroy();
  });
});
