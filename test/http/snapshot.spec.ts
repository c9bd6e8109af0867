import { describe, expect, it } from 'vitest';
import { defaultIdOf, diffSnapshot } from '../../src/http/snapshot.js';

// Snapshot mode tells deletions from a listing's ids: an id read wrongly reports a record as
// deleted (or keeps a deleted one), and a listing entry that is not a record must not stop the pull.
describe('snapshot mode: the id of a listed record', () => {
  it('is its `id` when that is a string or a finite number, else none (the record cannot be tracked)', () => {
    expect(defaultIdOf({ id: 'a' })).toBe('a');
    expect(defaultIdOf({ id: 0 })).toBe(0);
    for (const item of [null, undefined, 'a', 7, {}, { id: null }, { id: {} }, { id: true }, { id: Number.NaN }, { id: Number.POSITIVE_INFINITY }]) {
      expect(defaultIdOf(item)).toBeUndefined();
    }
  });

  it('a listing with entries that are not records still diffs: only ids it can read count', () => {
    expect(diffSnapshot([null, { id: 1 }, 'junk', { id: 'b' }], [1, 'a'], defaultIdOf)).toEqual({ vanished: ['a'], known: [1, 'b'] });
  });
});
