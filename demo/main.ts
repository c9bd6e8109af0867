/**
 * `npm run demo`: builds the todo demo, starts the reference sync server with it as the
 * static directory (same origin, so no CORS) and prints the URL.
 *
 * Environment: PORT (default 8787; 0 = any free port), HOST (default 127.0.0.1),
 * DB (default a SQLite file in the temp directory, kept across restarts; `:memory:` works),
 * QUIET=1 to leave out the request log.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSyncServer } from '../server/index.js';
import { buildDemo } from './build.js';

const portText = process.env.PORT ?? '8787';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`Invalid PORT ${JSON.stringify(portText)}: use an integer from 0 to 65535`);
  process.exit(2);
}

let db = process.env.DB;
if (!db) {
  const dataDir = join(tmpdir(), 'rxsync-demo-data');
  mkdirSync(dataDir, { recursive: true });
  db = join(dataDir, 'todos.sqlite');
}

// Rebuilt on every start into the same directory, so old builds do not pile up.
const built = await buildDemo(join(tmpdir(), 'rxsync-demo-page'));
const server = await startSyncServer({
  port,
  host: process.env.HOST,
  db,
  staticDir: built.dir,
  // The page's fault buttons use the admin routes.
  admin: true,
  log: process.env.QUIET ? undefined : (line) => console.log(`  ${line}`),
});

console.log(`
rxsync demo running at ${server.url}/

  database      ${db}
  page built in ${built.dir} (shell ${built.version})

  Open it in two tabs, toggle "Offline" in DevTools (Network panel), edit, reload, go back
  online and watch the queue drain. Conflict strategy: ${server.url}/?strategy=server-wins|client-wins|last-write-wins|manual
  Ctrl+C stops the server.
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (cause: unknown) => {
        console.error(cause);
        process.exit(1);
      },
    );
  });
}
