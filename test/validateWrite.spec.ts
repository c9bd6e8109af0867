import { describe, expect, it } from 'vitest';
import { idProblem, validateWrite } from '../src/validateWrite.js';

const entities = ['todos'];
const refusal = (write: unknown): unknown => {
  try {
    validateWrite(write, entities);
    return 'accepted';
  } catch (error) {
    return error;
  }
};

describe('validateWrite: ids a URL cannot carry', () => {
  it.each([
    ['.', /is "\.", which a URL cannot carry: URL parsing reads it as "this folder" or "the parent folder".*Use another id/],
    ['..', /is "\.\.", which a URL cannot carry/],
    ['%2e%2e', /is "%2e%2e", which a URL cannot carry/],
    ['%2E.', /is "%2E\.", which a URL cannot carry/],
    ['%252e', /is "%252e", which a URL cannot carry/],
    ['👍x'.slice(1), /contains a lone surrogate \(half of a UTF-16 pair, e\.g\. an emoji cut in two by slice\(\)\)/],
  ])('refuses the id %j with a SyncInputError that says what to do', (id, message) => {
    for (const operation of ['create', 'update', 'delete']) {
      const error = refusal({ entity: 'todos', operation, data: { id } });
      expect(error).toMatchObject({ name: 'SyncInputError', message: expect.stringMatching(/^\[rxsync\] data\.id of a/) });
      expect((error as Error).message).toMatch(message);
    }
  });

  it('refuses empty ids', () => {
    expect(refusal({ entity: 'todos', operation: 'update', data: { id: '' } })).toMatchObject({ message: expect.stringMatching(/needs data\.id \(a non-empty string or a number\)/) });
    expect(refusal({ entity: 'todos', operation: 'create', data: { id: '' } })).toMatchObject({ message: expect.stringMatching(/must be a non-empty string or a number, got ""/) });
  });

  it.each(['...', '.a', 'a.', '%2', 'a%2Fb', '👍', 'ünïcode', 0, -1.5])('accepts the id %j', (id) => {
    expect(refusal({ entity: 'todos', operation: 'update', data: { id } })).not.toBeInstanceOf(Error);
    expect(idProblem(id)).toBeUndefined();
  });

  it('refuses a lone surrogate anywhere in the data, in a value or a key', () => {
    const half = '👍'.slice(0, 1);
    expect(refusal({ entity: 'todos', operation: 'create', data: { id: '1', tags: ['ok', `cut${half}`] } })).toMatchObject({
      name: 'SyncInputError',
      message: expect.stringMatching(/^\[rxsync\] data\.tags\[1\] of a write to "todos" contains a lone surrogate/),
    });
    expect(refusal({ entity: 'todos', operation: 'create', data: { id: '1', [half]: true } })).toMatchObject({ message: expect.stringMatching(/\(the key\) contains a lone surrogate/) });
  });
});

describe('validateWrite: __proto__ keys are plain data', () => {
  it('a __proto__ key parsed from JSON stays an own key of the copy and never names the record', () => {
    const data = JSON.parse('{"id":"a","__proto__":{"id":"b","version":9}}');
    const { data: copy } = validateWrite({ entity: 'todos', operation: 'update', data }, entities) as { data: Record<string, unknown> };
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['id', '__proto__']);
    expect(copy.id).toBe('a');
    expect(copy.version).toBeUndefined();
    expect(JSON.stringify(copy)).toBe('{"id":"a","__proto__":{"id":"b","version":9}}');
  });

  it('an id only inside __proto__ is no id: an update is refused, a create has none', () => {
    const data = () => JSON.parse('{"title":"x","__proto__":{"id":"b"}}');
    expect(refusal({ entity: 'todos', operation: 'update', data: data() })).toMatchObject({ message: expect.stringMatching(/needs data\.id/) });
    const { data: copy } = validateWrite({ entity: 'todos', operation: 'create', data: data() }, entities) as { data: Record<string, unknown> };
    expect(copy.id).toBeUndefined();
    expect(JSON.stringify(copy)).toBe('{"title":"x","__proto__":{"id":"b"}}');
  });

  it('nested __proto__ keys are kept the same way', () => {
    const data = JSON.parse('{"id":"a","meta":{"__proto__":{"admin":true}}}');
    const { data: copy } = validateWrite({ entity: 'todos', operation: 'create', data }, entities) as { data: { meta: Record<string, unknown> } };
    expect(copy.meta.admin).toBeUndefined();
    expect(JSON.stringify(copy)).toBe('{"id":"a","meta":{"__proto__":{"admin":true}}}');
  });
});
