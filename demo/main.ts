/**
 * `npm run demo`: builds the todo demo, starts the reference sync server with it as the
 * static directory (same origin, so no CORS) and prints the URL.
 *
 * Environment: PORT (default 8787; 0 = any free port), HOST (default 127.0.0.1),
 * DB (default demo/todos.sqlite in this project, ignored by git and kept across restarts;
 * `:memory:` for a throwaway one), QUIET=1 to leave out the request log.
 * SIGINT or SIGTERM (also when sent to the `npm run demo` process) closes the server.
 */
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startSyncServer } from '../server/index.js';
import { buildDemo } from './build.js';

const portText = process.env.PORT ?? '8787';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`Invalid PORT ${JSON.stringify(portText)}: use an integer from 0 to 65535`);
  process.exit(2);
}

// Per clone, not shared through the temp directory: two checkouts never see each other's todos.
const db = process.env.DB || fileURLToPath(new URL('todos.sqlite', import.meta.url));

// A fresh temporary directory per run, removed when the server stops.
const built = await buildDemo();
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
      async () => {
        await rm(built.dir, { recursive: true, force: true });
        process.exit(0);
      },
      (cause: unknown) => {
        console.error(cause);
        process.exit(1);
      },
    );
  });
}
