/**
 * A vitest globalSetup (both configs): the tests must leave the work tree as they found it.
 * It notes `git status` and the content of every changed or untracked file before the run,
 * and fails the run when anything differs afterwards, naming the files. Outside a git
 * checkout (e.g. an unpacked tarball) there is nothing to compare, so it does nothing.
 * The one file a run may write is the one asked for by name in RXSYNC_SCREENSHOT
 * (`npm run screenshot`).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Path → its git status and a hash of its content, for every file git does not see as clean. */
function workTreeState(): Map<string, string> | undefined {
  let status: string;
  try {
    status = execFileSync('git', ['status', '--porcelain=v1', '-z', '--untracked-files=all'], { cwd: ROOT, encoding: 'utf8' });
  } catch {
    return undefined;
  }
  const state = new Map<string, string>();
  const entries = status.split('\0').filter(Boolean);
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]!;
    const code = entry.slice(0, 2);
    const path = entry.slice(3);
    // A rename is followed by its old path, which is not a file of the work tree any more.
    if (code.includes('R') || code.includes('C')) index++;
    const file = join(ROOT, path);
    const content = existsSync(file) && statSync(file).isFile() ? createHash('sha256').update(readFileSync(file)).digest('hex') : 'absent';
    state.set(path, `${code} ${content}`);
  }
  return state;
}

export default function setup(): () => void {
  const before = workTreeState();
  return () => {
    const after = workTreeState();
    if (!before || !after) return;
    const requested = process.env.RXSYNC_SCREENSHOT && relative(ROOT, resolve(process.env.RXSYNC_SCREENSHOT));
    const changed = [...new Set([...before.keys(), ...after.keys()])]
      .filter((path) => path !== requested && before.get(path) !== after.get(path))
      .sort();
    if (changed.length > 0) {
      // vitest reports an error thrown here but still exits 0, so the exit code is set as well.
      process.exitCode = 1;
      throw new Error(
        `[rxsync] The tests changed the work tree: ${changed.join(', ')}. Tests must leave it as they found it: ` +
          'write to a temporary directory (os.tmpdir()) or under node_modules/.cache, and remove what you create.',
      );
    }
  };
}
