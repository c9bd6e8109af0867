import type { Context } from 'rxjs-marbles';
import { describe, it } from 'vitest';
import type { OutboxCounts } from '../src/durableOutbox.js';
import type { SyncEvent, SyncItem, SyncStatusInfo } from '../src/index.js';
import { status$, type StatusInputs } from '../src/status.js';
import { marbles } from './marbles.js';

const bool = { t: true, f: false };
const item: SyncItem = { id: 'k', entity: 'todos', operation: 'create', data: { id: '1' }, timestamp: '2026-01-01T00:00:00.000Z', retryCount: 0 };
/** A `retried` event: what sets `lastError` until a delivery clears it. */
const retried = (error: string): SyncEvent => ({ type: 'retried', item, attempt: 1, delayMs: 1000, error });
const none = { u: undefined };
const counts = (queueLength: number, inFlight = 0, failedCount = 0): OutboxCounts => ({ queueLength, inFlight, failedCount });
const info = (status: SyncStatusInfo['status'], queueLength: number, inFlight = 0, failedCount = 0, extra: Partial<SyncStatusInfo> = {}): SyncStatusInfo => ({
  status,
  online: status !== 'offline',
  queueLength,
  inFlight,
  failedCount,
  ...extra,
});

/** The facts as hot marbles: online, an empty outbox and nothing else known from frame 0, unless given. */
const facts = (m: Context, given: Partial<StatusInputs>): StatusInputs => ({
  online: m.hot('t', bool),
  outbox: m.hot('a', { a: counts(0) }),
  waiting: m.hot('f', bool),
  pulling: m.hot('0', { 0: 0 }),
  nextRetryAt: m.hot('u', none),
  events: m.hot('-'),
  ...given,
});

describe('status$', () => {
  it(
    'a reconnect: offline with a queue, then syncing before anything is in flight, then in flight, then idle',
    marbles((m) => {
      const statuses$ = status$(
        facts(m, {
          online: m.hot('f---t----', bool),
          outbox: m.hot('a-b---c-d', { a: counts(0), b: counts(2), c: counts(2, 2), d: counts(0) }),
        }),
      );
      m.expect(statuses$).toBeObservable('o-q-s-f-i', {
        o: info('offline', 0, 0, 0, { online: false }),
        q: info('offline', 2),
        s: info('syncing', 2),
        f: info('syncing', 2, 2),
        i: info('idle', 0),
      });
    }),
  );

  it(
    'says nothing until every fact is known, and nothing when only facts it does not show change',
    marbles((m) => {
      const statuses$ = status$(
        facts(m, {
          // The same counts again (e.g. a held write applied after the load) show nothing new.
          outbox: m.hot('a-b-c', { a: counts(1), b: counts(1), c: counts(1) }),
          pulling: m.hot('--0', { 0: 0 }),
        }),
      );
      m.expect(statuses$).toBeObservable('--s', { s: info('syncing', 1) });
    }),
  );

  it(
    'a failed attempt: the retry shows as nextRetryAt and lastError while it waits; a dead letter alone is an error',
    marbles((m) => {
      const statuses$ = status$(
        facts(m, {
          outbox: m.hot('a-----b', { a: counts(1, 1), b: counts(0, 0, 1) }),
          nextRetryAt: m.hot('u-r--u', { ...none, r: 1000 }),
          events: m.hot('---e', { e: retried('503') }),
        }),
      );
      m.expect(statuses$).toBeObservable('a-rw-xy', {
        a: info('syncing', 1, 1),
        r: info('syncing', 1, 1, 0, { nextRetryAt: '1970-01-01T00:00:01.000Z' }),
        w: info('syncing', 1, 1, 0, { nextRetryAt: '1970-01-01T00:00:01.000Z', lastError: '503' }),
        x: info('syncing', 1, 1, 0, { lastError: '503' }),
        y: info('error', 0, 0, 1, { lastError: '503' }),
      });
    }),
  );

  it(
    'waiting for another engine outranks offline; a pull under way is syncing',
    marbles((m) => {
      const statuses$ = status$(
        facts(m, {
          online: m.hot('f-t', bool),
          waiting: m.hot('t---f', bool),
          pulling: m.hot('0-----1-0', { 0: 0, 1: 1 }),
        }),
      );
      m.expect(statuses$).toBeObservable('w-v-i-s-i', {
        w: info('waiting', 0, 0, 0, { online: false }),
        v: info('waiting', 0),
        i: info('idle', 0),
        s: info('syncing', 0),
      });
    }),
  );
});
