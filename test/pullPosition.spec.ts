import { describe, expect, it } from 'vitest';
import { decodePosition, encodePosition } from '../src/pullPosition.js';

// The stored pull position is a format on disk: what an older version wrote must still read,
// and anything unreadable must mean "start from the beginning" (pages again, never skipped).
describe('the stored pull position', () => {
  it('is a bare checkpoint string while there is no transport state, as every earlier version wrote it', () => {
    expect(encodePosition({ checkpoint: 'c7' })).toBe('c7');
    expect(decodePosition('c7')).toEqual({ checkpoint: 'c7' });
    expect(encodePosition({})).toBeNull();
  });

  it('is a versioned object once there is state, with or without a checkpoint, and reads back as it was', () => {
    expect(encodePosition({ checkpoint: 'c7', state: { page: 2 } })).toEqual({ v: 1, checkpoint: 'c7', state: { page: 2 } });
    expect(encodePosition({ state: ['a'] })).toStrictEqual({ v: 1, state: ['a'] });
    for (const position of [{ checkpoint: 'c7', state: { page: 2 } }, { checkpoint: undefined, state: ['a'] }, { checkpoint: 'c1', state: null }]) {
      expect(decodePosition(JSON.parse(JSON.stringify(encodePosition(position))))).toEqual(position);
    }
  });

  it('starts from the beginning when what is stored cannot be read', () => {
    for (const stored of [null, undefined, 7, true, { v: 2, checkpoint: 'c7', state: 1 }, { checkpoint: 'c7' }, []]) {
      expect(decodePosition(stored)).toEqual({});
    }
    // A checkpoint that is not a string is never sent back to the server.
    expect(decodePosition({ v: 1, checkpoint: 42, state: 'x' })).toStrictEqual({ checkpoint: undefined, state: 'x' });
  });
});
