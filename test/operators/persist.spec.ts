import { describe, expect, it } from 'vitest';
import { map, of, throwError, timer } from 'rxjs';
import { persist } from '../../src/operators/index.js';
import { marbles } from '../marbles.js';

describe('persist', () => {
  it(
    'emits each value only once its write has finished',
    marbles((m) => {
      const writes$ = m.cold('a----|').pipe(persist(() => timer(3)));
      m.expect(writes$.pipe(map((b) => b.values.join('')))).toBeObservable('---a-|');
    }),
  );

  it('batches what arrives while a write is under way: a burst costs few writes', () => {
    const batches: string[][] = [];
    marbles((m) => {
      const writes$ = m.cold('abcd------|').pipe(
        persist((batch) => {
          batches.push([...batch]);
          return timer(3);
        }),
      );
      m.expect(writes$.pipe(map((b) => b.values.join('')))).toBeObservable('---a--b---|', { a: 'a', b: 'bcd' });
    })();
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it(
    'a failed write fails its batch and what queued behind it, then the stream goes on',
    marbles((m) => {
      let calls = 0;
      const writes$ = m.cold('ab-----c---|').pipe(
        persist(() => (++calls === 1 ? timer(2).pipe(map(() => { throw new Error('quota'); })) : of(true))),
      );
      m.expect(writes$.pipe(map((b) => `${b.values.join('')}${b.error ? '!' : ''}`))).toBeObservable('--x----y---|', {
        x: 'ab!',
        y: 'c',
      });
    }),
  );

  it('a write that throws synchronously is a failed write, not a dead stream', () => {
    const seen: string[] = [];
    of(1, 2)
      .pipe(persist((batch) => (batch[0] === 1 ? (() => { throw new Error('sync'); })() : throwError(() => new Error('x')))))
      .subscribe((b) => seen.push(`${b.values}:${(b.error as Error).message}`));
    expect(seen).toEqual(['1:sync', '2:x']);
  });

  it(
    'writes what is collected before completing',
    marbles((m) => {
      const writes$ = m.cold('ab|').pipe(persist(() => timer(2)));
      m.expect(writes$.pipe(map((b) => b.values.join('')))).toBeObservable('--a-(b|)');
    }),
  );

  it('an error of the source ends the output with that error', () => {
    let error: unknown;
    throwError(() => new Error('source broke'))
      .pipe(persist(() => of(undefined)))
      .subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toEqual(new Error('source broke'));
  });
});
