import { describe, it } from 'vitest';
import { coalesceRuns } from '../../src/operators/index.js';
import { marbles } from '../marbles.js';

describe('coalesceRuns', () => {
  it(
    'runs at once when idle',
    marbles((m) => {
      m.expect(m.cold('a-----b--|').pipe(coalesceRuns((v) => m.cold('--x|', { x: v })))).toBeObservable('--a-----b|');
    }),
  );

  it(
    'a burst during a run becomes one more run, with the latest value, right after it',
    marbles((m) => {
      const source = m.cold('ab-c-------|');
      m.expect(source.pipe(coalesceRuns((v) => m.cold('---x|', { x: v })))).toBeObservable('---a---c---|');
    }),
  );

  it(
    'one run at a time: never two at once, and a value after a run ends starts a new one',
    marbles((m) => {
      const runs = { a: m.cold('----x|', { x: 'a' }), b: m.cold('----x|', { x: 'b' }), c: m.cold('----x|', { x: 'c' }) };
      const source = m.cold('a-b------c|');
      m.expect(source.pipe(coalesceRuns((v: 'a' | 'b' | 'c') => runs[v]))).toBeObservable('----a----b----c|');
      m.expect(runs.a).toHaveSubscriptions('^----!');
      m.expect(runs.b).toHaveSubscriptions('-----^----!');
      m.expect(runs.c).toHaveSubscriptions('----------^----!');
    }),
  );

  it(
    'an error of the source or of a run ends the output with that error',
    marbles((m) => {
      m.expect(m.cold('a-#').pipe(coalesceRuns((v) => m.cold('x|', { x: v })))).toBeObservable('a-#');
      m.expect(m.cold('a--|').pipe(coalesceRuns(() => m.cold('-#')))).toBeObservable('-#');
    }),
  );
});
