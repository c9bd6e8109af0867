/**
 * The service worker of the browser benchmark: workbox-background-sync's Queue, which only
 * runs in a service worker. It queues each write as a request and replays the queue when the
 * page says the phase may drain (the sync event is not waited for, so no timer decides). Work
 * comes in slices (see `replay`), each one message from the page.
 */
import { Queue } from 'workbox-background-sync';
import type { BenchWrite } from './workload.js';
import type { WorkerMessage } from './protocol.js';

const queue = new Queue('rxsync-bench', {
  // Replaying is the page's call: a background sync firing during the offline phase would send early.
  onSync: async () => undefined,
  maxRetentionTime: 24 * 60,
});

function request(entity: string, write: BenchWrite): Request {
  const { id } = write.data;
  const url = write.operation === 'create' ? `/${entity}` : `/${entity}/${encodeURIComponent(id)}`;
  return new Request(new URL(url, location.origin), {
    method: write.operation === 'create' ? 'POST' : 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(write.data),
  });
}

/**
 * `Queue.replayRequests()` in slices: the same shift, fetch, and unshift-on-failure, but at
 * most `limit` requests per message, because Chromium stops a service worker whose event runs
 * for more than five minutes. Resolves true once the queue is empty.
 */
async function replay(limit: number): Promise<boolean> {
  for (let i = 0; i < limit; i++) {
    const entry = await queue.shiftRequest();
    if (!entry) return true;
    try {
      await fetch(entry.request.clone());
    } catch (error) {
      await queue.unshiftRequest(entry);
      throw error;
    }
  }
  return false;
}

async function handle(message: WorkerMessage): Promise<boolean> {
  if (message.type === 'drain') return replay(message.limit);
  const { entity, writes } = message;
  if (message.serial) for (const w of writes) await queue.pushRequest({ request: request(entity, w) });
  else await Promise.all(writes.map((w) => queue.pushRequest({ request: request(entity, w) })));
  return true;
}

const worker = globalThis as unknown as {
  addEventListener(type: 'message', listener: (event: { data: WorkerMessage; ports: readonly MessagePort[]; waitUntil(p: Promise<unknown>): void }) => void): void;
  addEventListener(type: 'install' | 'activate', listener: (event: { waitUntil(p: Promise<unknown>): void }) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
};
worker.addEventListener('install', (event) => event.waitUntil(worker.skipWaiting()));
worker.addEventListener('activate', (event) => event.waitUntil(worker.clients.claim()));
worker.addEventListener('message', (event) => {
  const [port] = event.ports;
  event.waitUntil(
    handle(event.data).then(
      (done) => port.postMessage({ done }),
      (error: unknown) => port.postMessage({ error: error instanceof Error ? error.message : String(error) }),
    ),
  );
});
