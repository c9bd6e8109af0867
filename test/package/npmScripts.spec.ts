/**
 * `npm run server` and `npm run demo` as a user runs them: they listen on loopback, and a
 * SIGTERM or SIGINT sent to the npm process (what a process manager or an IDE's stop button
 * does) stops the server too, leaving nothing on the port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Starts `npm run <script>` on a free port and resolves with its process and the URL it printed. */
async function start(script: string, args: string[] = []): Promise<{ npm: ChildProcess; url: string }> {
  const npm = spawn('npm', ['run', script, '--', ...args], {
    cwd: root,
    env: { ...process.env, PORT: '0', DB: ':memory:', QUIET: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      const found = /https?:\/\/127\.0\.0\.1:\d+/.exec(output);
      if (found) resolve(found[0]);
    };
    npm.stdout!.on('data', read);
    npm.stderr!.on('data', read);
    npm.once('exit', (code) => reject(new Error(`npm run ${script} exited with ${code} before listening:\n${output}`)));
  });
  return { npm, url };
}

async function answers(url: string): Promise<boolean> {
  return fetch(`${url}/todos`).then(
    (response) => response.ok,
    () => false,
  );
}

describe('npm scripts that start the reference server', () => {
  it.each([
    ['server', 'SIGTERM'],
    ['demo', 'SIGINT'],
    ['demo', 'SIGTERM'],
  ] as const)('npm run %s serves the protocol and stops with %s to the npm process', async (script, signal) => {
    const { npm, url } = await start(script);
    try {
      expect(await answers(url)).toBe(true);
      const exited = once(npm, 'exit');
      npm.kill(signal);
      await exited;
      // Closed by the server itself, not by the test: nothing is left listening.
      expect(await answers(url)).toBe(false);
    } finally {
      npm.kill('SIGKILL');
    }
  }, 60_000);
});
