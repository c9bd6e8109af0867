/**
 * The protocol specs again, on the PostgreSQL store (a throwaway cluster, a fresh schema per
 * server), plus what only several connections or processes can show: commit-safe checkpoints
 * and two server processes behaving as one.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { BehaviorSubject, firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore, startSyncServer, type RecordChange, type StoredRecord, type SyncServer } from '../../server/index.js';
import { createSyncEngine, httpTransport, type SyncEngine, type SyncWrite } from '../../src/index.js';
import { drained, freshStorage } from '../support/engineHarness.js';
import { call, runOnStore } from './helpers.js';
import { openEvents } from './eventStream.js';
import { postgresBinDir, startPostgresCluster, type PostgresCluster } from './postgresCluster.js';

// In CI (.ci/run installs PostgreSQL) a missing server is a failure, not a skip.
const available = postgresBinDir() !== undefined || Boolean(process.env.CI);
let cluster: PostgresCluster | undefined;
let schemas = 0;
const stores: PostgresStore[] = [];

function freshStore(): PostgresStore {
  if (!cluster) throw new Error('the PostgreSQL cluster did not start');
  const store = new PostgresStore({ connectionString: cluster.url, schema: `spec_${process.pid}_${++schemas}`, maxConnections: 4 });
  stores.push(store);
  return store;
}

if (available) {
  beforeAll(async () => {
    cluster = await startPostgresCluster();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    cluster?.stop();
  });
  runOnStore(freshStore);

  describe('on PostgreSQL', async () => {
    await import('./records.spec.js');
    await import('./pull.spec.js');
    await import('./batch.spec.js');
    await import('./idempotency.spec.js');
    await import('./faults.spec.js');
    await import('./admin.spec.js');
    await import('./security.spec.js');
    await import('./events.spec.js');
  });

  describe('PostgreSQL: commit-safe checkpoints', () => {
    const change = (id: string, basedOn: number | null = null): RecordChange => ({
      entity: 'todos',
      id,
      data: { title: id },
      basedOn,
      updatedAt: new Date().toISOString(),
      deleted: false,
      method: 'PUT',
      idempotencyKey: null,
    });

    /** Writes `id` in a transaction that stays open until `commit()`; resolves once written. */
    async function writeAndHold(store: PostgresStore, id: string): Promise<{ commit(): Promise<void> }> {
      let release!: () => void;
      let written!: () => void;
      const isWritten = new Promise<void>((resolve) => (written = resolve));
      const done = store.write(async (tx) => {
        await tx.writeRecord(change(id));
        written();
        await new Promise<void>((resolve) => (release = resolve));
      });
      await isWritten;
      return {
        commit() {
          release();
          return done;
        },
      };
    }

    it('never skips a write whose transaction commits after a later one, while another connection pulls in a loop', async () => {
      const store = freshStore();
      await store.ready();
      const seen = new Map<string, StoredRecord>();
      let since: string | undefined;
      let pulls = 0;
      const pullOnce = async () => {
        pulls++;
        const page = await store.changesSince('todos', since, 100, () => true);
        for (const record of page.records) seen.set(record.id, record);
        since = page.checkpoint;
      };

      // Connection 1 writes "a" first and holds its transaction open.
      const a = await writeAndHold(store, 'a');
      // Connection 2 writes "b" after it and commits first.
      await store.write((tx) => tx.writeRecord(change('b')));
      // Connection 3 pulls in a loop meanwhile: "b" must wait behind the open transaction of "a".
      for (let n = 0; n < 5; n++) await pullOnce();
      expect([...seen.keys()]).toEqual([]);
      await a.commit();
      while (seen.size < 2 && pulls < 50) await pullOnce();
      expect([...seen.keys()].sort()).toEqual(['a', 'b']);
      // And nothing comes twice or later: the checkpoint is past both.
      expect((await store.changesSince('todos', since, 100, () => true)).records).toEqual([]);
    });

    it('a pull from the start during an open transaction hands back a checkpoint that still sees it', async () => {
      const store = freshStore();
      await store.ready();
      const late = await writeAndHold(store, 'late');
      const empty = await store.changesSince('todos', undefined, 100, () => true);
      expect(empty.records).toEqual([]);
      await late.commit();
      const next = await store.changesSince('todos', empty.checkpoint, 100, () => true);
      expect(next.records.map((r) => r.id)).toEqual(['late']);
    });
  });

  describe('PostgreSQL: two server processes on one database', () => {
    let one: SyncServer;
    let two: SyncServer;
    beforeAll(async () => {
      const schema = `two_${process.pid}`;
      const url = () => cluster!.url;
      one = await startSyncServer({ admin: true, db: new PostgresStore({ connectionString: url(), schema }) });
      two = await startSyncServer({ admin: true, db: new PostgresStore({ connectionString: url(), schema }) });
    });
    afterAll(async () => {
      await one?.close();
      await two?.close();
    });

    it('share records, conflicts, idempotency keys and the change feed', async () => {
      const created = await call(one, 'POST', '/todos', { body: { id: 'x', n: 0 }, headers: { 'Idempotency-Key': 'k1' } });
      expect(created.status).toBe(201);
      const replay = await call(two, 'POST', '/todos', { body: { id: 'x', n: 0 }, headers: { 'Idempotency-Key': 'k1' } });
      expect(replay).toMatchObject({ status: 201, body: created.body });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect((await call(two, 'PATCH', '/todos/x', { body: { n: 1 }, headers: { 'If-Match': '1' } })).status).toBe(200);
      const stale = await call(one, 'PATCH', '/todos/x', { body: { n: 2 }, headers: { 'If-Match': '1' } });
      expect(stale).toMatchObject({ status: 409, body: { id: 'x', n: 1, version: 2 } });
      const page = await call(one, 'GET', '/todos');
      expect(page.body.items).toEqual([expect.objectContaining({ id: 'x', n: 1, version: 2 })]);
    });

    it('poke the /_events streams of both processes after a write on either (LISTEN/NOTIFY)', async () => {
      const [onOne, onTwo] = await Promise.all([openEvents(one), openEvents(two)]);
      try {
        await Promise.all([onOne.next(), onTwo.next()]);
        await call(one, 'PUT', '/todos/poked', { body: { n: 1 } });
        const first = await onTwo.next();
        expect(await onOne.next()).toBe(first);
        await call(two, 'PATCH', '/todos/poked', { body: { n: 2 } });
        const second = await onOne.next();
        expect(await onTwo.next()).toBe(second);
        const position = (frame?: string) => BigInt(/^event: poke\nid: (\d+)\ndata: \1$/.exec(frame ?? '')![1]);
        expect(position(second)).toBeGreaterThan(position(first));
      } finally {
        onOne.close();
        onTwo.close();
      }
    });

    it('apply concurrent PATCHes to one record from both processes exactly once each', async () => {
      await call(one, 'PUT', '/todos/c', { body: { n: 0 } });
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, n) => call(n % 2 ? one : two, 'PATCH', '/todos/c', { body: { [`f${n}`]: n }, headers: { 'Idempotency-Key': `c${n}` } })),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(new Set(answers.map((a) => a.body.version)).size).toBe(20);
      const record = (await call(two, 'GET', '/todos/c')).body;
      expect(record.version).toBe(21);
      for (let n = 0; n < 20; n++) expect(record[`f${n}`]).toBe(n);
    });
  });

  describe('PostgreSQL: rxsync engines against two server processes with faults (property)', () => {
    /** A record's life in one engine: created, updated some times, maybe deleted. */
    const lifeArb = fc.record({ updates: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), deleted: fc.boolean() });
    const caseArb = fc.record({
      engines: fc.array(fc.array(lifeArb, { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 3 }),
      failureRate: fc.double({ min: 0, max: 0.4, noNaN: true }),
      dropResponseRate: fc.double({ min: 0, max: 0.4, noNaN: true }),
      batchSize: fc.constantFrom(1, 3),
      seed: fc.integer(),
    });

    /** The writes of one engine, each record's in order, records interleaved round-robin. */
    function writesOf(engine: number, lives: { updates: string[]; deleted: boolean }[]): SyncWrite<'todos'>[] {
      const chains = lives.map((life, n) => {
        const id = `e${engine}-r${n}`;
        const chain: SyncWrite<'todos'>[] = [{ entity: 'todos', operation: 'create', data: { id, title: 'created' } }];
        for (const title of life.updates) chain.push({ entity: 'todos', operation: 'update', data: { id, title } });
        if (life.deleted) chain.push({ entity: 'todos', operation: 'delete', data: { id } });
        return chain;
      });
      const writes: SyncWrite<'todos'>[] = [];
      for (let step = 0; chains.some((chain) => step < chain.length); step++) for (const chain of chains) if (step < chain.length) writes.push(chain[step]);
      return writes;
    }

    it('applies every write once, and every engine pulls exactly what the database holds', async () => {
      let faultsHit = 0;
      await fc.assert(
        fc.asyncProperty(caseArb, async ({ engines: plan, failureRate, dropResponseRate, batchSize, seed }) => {
          let state = seed >>> 0;
          const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
          const schema = `prop_${process.pid}_${++schemas}`;
          const servers = await Promise.all(
            [0, 1].map(() =>
              startSyncServer({
                admin: true,
                random,
                rateLimit: false,
                // At least one failure and one lost answer per server, then the random ones.
                faults: { failureRate, dropResponseRate, failNext: 1, dropNext: 1 },
                db: new PostgresStore({ connectionString: cluster!.url, schema, maxConnections: 3 }),
              }),
            ),
          );
          const engines: { engine: SyncEngine<'todos'>; view: Map<string, StoredRecord> }[] = [];
          try {
            const online$ = new BehaviorSubject(false);
            for (const [n, lives] of plan.entries()) {
              const view = new Map<string, StoredRecord>();
              const engine = createSyncEngine<'todos'>({
                entities: { todos: { endpoint: '/todos' } },
                transport: httpTransport({ baseUrl: servers[n % 2].url }),
                storage: freshStorage(),
                online$,
                batchSize,
                maxRetries: 1000,
                retryBaseDelayMs: 1,
                retryMaxDelayMs: 5,
                retryJitter: 0,
                onPull: (_entity, items) => {
                  for (const item of items as StoredRecord[]) view.set(item.id, item);
                },
              });
              engines.push({ engine, view });
              await engine.ready;
              for (const write of writesOf(n, lives)) await engine.write(write);
            }
            online$.next(true);
            await Promise.all(engines.map(({ engine }) => drained(engine)));
            for (const server of servers) {
              faultsHit += server.faults.counters.failed + server.faults.counters.dropped;
              server.faults.reset();
            }
            for (const { engine } of engines) expect(await firstValueFrom(engine.failed$)).toEqual([]);

            const db = servers[0].db;
            const writes = await db.writeLog();
            const keys = writes.map((write) => write.idempotencyKey);
            expect(new Set(keys).size).toBe(keys.length);
            const records = await db.records('todos', { includeDeleted: true });
            const inDb = new Map(records.map((record) => [record.id, record]));
            // A pull serves a change once every transaction older than it has ended, and any
            // transaction of the cluster counts (autovacuum's ANALYZE too): pull again until then.
            for (const { engine, view } of engines) {
              for (let pulls = 0; pulls < 20 && !isDeepStrictEqual(view, inDb); pulls++) await engine.pull();
              expect(view).toEqual(inDb);
            }
            for (const [n, lives] of plan.entries()) {
              for (const [r, life] of lives.entries()) {
                const record = inDb.get(`e${n}-r${r}`);
                // A create deleted before it was sent never reaches the server: both are fine.
                if (life.deleted) expect(record === undefined || record.deleted === true).toBe(true);
                else expect(record).toMatchObject({ title: life.updates.at(-1) ?? 'created' });
              }
            }
          } finally {
            for (const { engine } of engines) engine.destroy();
            await Promise.all(servers.map((server) => server.close()));
          }
        }),
        { numRuns: 6 },
      );
      // The runs did go through failures and lost answers.
      expect(faultsHit).toBeGreaterThan(0);
    }, 120_000);
  });
} else {
  describe.skip('on PostgreSQL (not installed: apt-get install -y postgresql)', () => {
    it('runs the protocol specs', () => undefined);
  });
}
