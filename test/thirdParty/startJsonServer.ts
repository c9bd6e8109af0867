import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface JsonServer {
  url: string;
  close(): Promise<void>;
}

/** A free loopback port: json-server's CLI cannot listen on port 0 and say which port it got. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * json-server 0.17 from its own CLI, on a loopback port, over a db.json in a fresh temp
 * directory (also its working directory, so it reads no config and writes nothing here).
 */
export async function startJsonServer(db: Record<string, unknown[]>): Promise<JsonServer> {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-json-server-'));
  const file = join(dir, 'db.json');
  writeFileSync(file, JSON.stringify(db));
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('json-server/package.json');
  const bin = join(dirname(pkgPath), (JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin: string }).bin);
  const port = await freePort();
  const child = spawn(process.execPath, [bin, file, '--port', String(port), '--host', '127.0.0.1'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // It prints its home URL once it listens.
      if (output.includes(url)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`json-server exited with ${code} before listening:\n${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    async close() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
