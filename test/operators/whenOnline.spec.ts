import { describe, it } from 'vitest';
import { whenOnline } from '../../src/operators/index.js';
import { testScheduler } from '../marbles.js';

const online = { t: true, f: false };

describe('whenOnline', () => {
  it('lets values through while online', () => {
    testScheduler().run(({ hot, cold, expectObservable }) => {
      expectObservable(cold('-a-b-|').pipe(whenOnline(hot('t', online)))).toBe('-a-b-|');
    });
  });

  it('holds every value that arrives offline and releases them in order on reconnect', () => {
    testScheduler().run(({ hot, cold, expectObservable }) => {
      const online$ = hot('f-----t--', online);
      expectObservable(cold('-a-b------c|').pipe(whenOnline(online$))).toBe('------(ab)c|');
    });
  });

  it("with hold: 'latest' only the newest held value is released", () => {
    testScheduler().run(({ hot, cold, expectObservable }) => {
      const online$ = hot('f-----t--', online);
      expectObservable(cold('-a-b------c|').pipe(whenOnline(online$, { hold: 'latest' }))).toBe('------b---c|');
    });
  });

  it('holds values until online$ first says anything', () => {
    testScheduler().run(({ hot, cold, expectObservable }) => {
      expectObservable(cold('a|').pipe(whenOnline(hot('---t', online)))).toBe('---(a|)');
    });
  });

  it('going offline again holds new values', () => {
    testScheduler().run(({ hot, cold, expectObservable }) => {
      const online$ = hot('t-f---t', online);
      expectObservable(cold('-a-b----|').pipe(whenOnline(online$))).toBe('-a----b-|');
    });
  });

  it('subscribes to online$ once per subscription, and lets go of it', () => {
    testScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const online$ = cold('t', online);
      expectObservable(hot('-a-b-|').pipe(whenOnline(online$))).toBe('-a-b-|');
      expectSubscriptions(online$.subscriptions).toBe('^----!');
    });
  });
});
