/**
 * The service worker of the browser benchmark: workbox-background-sync's Queue, which only
 * runs in a service worker. It queues each write as a request and replays the queue when the
 * page says the phase may drain (the sync event is not waited for, so no timer decides).
 */
import { Queue } from 'workbox-background-sync';
import { benchWrites } from './workload.js';
import type { WorkerMessage } from './protocol.js';

const queue = new Queue('rxsync-bench', {
  // Replaying is the page's call: a background sync firing during the offline phase would send early.
  onSync: async () => undefined,
  maxRetentionTime: 24 * 60,
});

function request(entity: string, write: ReturnType<typeof benchWrites>[number]): Request {
  const { id } = write.data;
  const url = write.operation === 'create' ? `/${entity}` : `/${entity}/${encodeURIComponent(id)}`;
  return new Request(new URL(url, location.origin), {
    method: write.operation === 'create' ? 'POST' : 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(write.data),
  });
}

async function handle(message: WorkerMessage): Promise<void> {
  if (message.type === 'drain') return queue.replayRequests();
  const writes = benchWrites(message.count, message.prefix);
  if (message.serial) for (const w of writes) await queue.pushRequest({ request: request(message.entity, w) });
  else await Promise.all(writes.map((w) => queue.pushRequest({ request: request(message.entity, w) })));
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
      () => port.postMessage({}),
      (error: unknown) => port.postMessage({ error: error instanceof Error ? error.message : String(error) }),
    ),
  );
});
