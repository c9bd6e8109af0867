/**
 * CLI of the reference sync server:
 *   tsx server/main.ts [--port 8787] [--host 127.0.0.1] [--db :memory:|file.sqlite|postgres://…] [--static dir]
 *     [--admin] [--allow-origin https://app.example.com]... [--allow-host sync.example.com]... [--quiet]
 * Environment: PORT, HOST, DB, STATIC_DIR (flags win).
 */
import { parseArgs } from 'node:util';
import { isPostgresUrl, startSyncServer } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    db: { type: 'string' },
    static: { type: 'string' },
    admin: { type: 'boolean', default: false },
    'allow-origin': { type: 'string', multiple: true },
    'allow-host': { type: 'string', multiple: true },
    'rate-limit': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(
    [
      'Usage: tsx server/main.ts [--port 8787] [--host 127.0.0.1] [--db :memory:|file.sqlite|postgres://user@host/db] [--static dir] [--quiet]',
      '  --admin              turn on /__faults, /__reset, /__records, /__writes, /__stats (tests and demos only)',
      '  --allow-origin URL   a browser origin that may call the server (repeatable; default: loopback origins)',
      '  --allow-host NAME    a Host name the server answers to (repeatable; default: localhost, 127.0.0.1, [::1])',
      '  --rate-limit R[:B]   R requests/s with bursts of B per caller (default 100:200), or off',
    ].join('\n'),
  );
  process.exit(0);
}

const portText = values.port ?? process.env.PORT ?? '8787';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`Invalid port ${JSON.stringify(portText)}: use an integer from 0 to 65535`);
  process.exit(2);
}
const db = values.db ?? process.env.DB ?? ':memory:';
const rateText = values['rate-limit'];
const rateMatch = /^(\d+(?:\.\d+)?)(?::(\d+))?$/.exec(rateText ?? '');
if (rateText !== undefined && rateText !== 'off' && !rateMatch) {
  console.error(`Invalid --rate-limit ${JSON.stringify(rateText)}: use requests/s[:burst], e.g. 100:200, or off`);
  process.exit(2);
}
const rateLimit =
  rateText === 'off' ? false : rateMatch ? { requestsPerSecond: Number(rateMatch[1]), burst: Number(rateMatch[2] ?? Math.max(1, 2 * Number(rateMatch[1]))) } : undefined;
const staticDir = values.static ?? process.env.STATIC_DIR;

const server = await startSyncServer({
  port,
  host: values.host ?? process.env.HOST,
  db,
  staticDir,
  admin: values.admin,
  allowedOrigins: values['allow-origin'],
  allowedHosts: values['allow-host'],
  rateLimit,
  log: values.quiet ? undefined : (line) => console.log(line),
});
/** The database for the log line, without a password. */
function shown(database: string): string {
  if (!isPostgresUrl(database)) return database;
  try {
    const url = new URL(database);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://…';
  }
}

console.log(
  `rxsync reference sync server listening on ${server.url} (db ${shown(db)}${staticDir ? `, static ${staticDir}` : ''}${values.admin ? ', admin routes on' : ''})`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`${signal}: closing`);
    server.close().then(
      () => process.exit(0),
      (cause: unknown) => {
        console.error(cause);
        process.exit(1);
      },
    );
  });
}
