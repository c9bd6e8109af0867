import { describe, it } from 'vitest';
import { whenOnline } from '../../src/operators/index.js';
import { marbles } from '../marbles.js';

const online = { t: true, f: false };

describe('whenOnline', () => {
  it(
    'lets values through while online',
    marbles((m) => {
      m.expect(m.cold('-a-b-|').pipe(whenOnline(m.hot('t', online)))).toBeObservable('-a-b-|');
    }),
  );

  it(
    'holds every value that arrives offline and releases them in order on reconnect',
    marbles((m) => {
      const online$ = m.hot('f-----t--', online);
      m.expect(m.cold('-a-b------c|').pipe(whenOnline(online$))).toBeObservable('------(ab)c|');
    }),
  );

  it(
    "with hold: 'latest' only the newest held value is released",
    marbles((m) => {
      const online$ = m.hot('f-----t--', online);
      m.expect(m.cold('-a-b------c|').pipe(whenOnline(online$, { hold: 'latest' }))).toBeObservable('------b---c|');
    }),
  );

  it(
    'holds values until online$ first says anything',
    marbles((m) => {
      m.expect(m.cold('a|').pipe(whenOnline(m.hot('---t', online)))).toBeObservable('---(a|)');
    }),
  );

  it(
    'going offline again holds new values',
    marbles((m) => {
      const online$ = m.hot('t-f---t', online);
      m.expect(m.cold('-a-b----|').pipe(whenOnline(online$))).toBeObservable('-a----b-|');
    }),
  );

  it(
    'subscribes to online$ once per subscription, and lets go of it',
    marbles((m) => {
      const online$ = m.cold('t', online);
      m.expect(m.hot('-a-b-|').pipe(whenOnline(online$))).toBeObservable('-a-b-|');
      m.expect(online$).toHaveSubscriptions('^----!');
    }),
  );
});
