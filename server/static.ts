/**
 * Serves files of one directory (the demo page) for GET/HEAD on non-API paths. Never a dotfile or
 * dot-directory (`.env`, `.git/`), never a file reached through a symlink that leads out of the root.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

function isInside(root: string, target: string): boolean {
  const inside = relative(root, target);
  return inside === '' || (!inside.startsWith('..') && !isAbsolute(inside));
}

async function fileAt(root: string, path: string): Promise<{ path: string; size: number } | undefined> {
  try {
    // The real path, so that a symlink inside the root cannot hand out a file outside it.
    const real = await realpath(path);
    if (!isInside(root, real)) return undefined;
    const info = await stat(real);
    if (info.isFile()) return { path: real, size: info.size };
    if (info.isDirectory()) return await fileAt(root, join(real, 'index.html'));
  } catch {
    // missing or unreadable: not a static file
  }
  return undefined;
}

/**
 * Answers the request from `dir` when `pathname` names a file in it (`/` and directories mean
 * their index.html). Resolves false, having sent nothing, when there is no such file.
 */
export async function serveStatic(dir: string, pathname: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return false;
  }
  if (decoded.includes('\0') || decoded.split(/[/\\]/).some((segment) => segment.startsWith('.'))) return false;
  let root: string;
  try {
    root = await realpath(resolve(dir));
  } catch {
    return false;
  }
  const target = resolve(root, `.${decoded}`);
  if (!isInside(root, target)) return false;
  const file = await fileAt(root, target);
  if (!file) return false;
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': String(file.size),
    'Cache-Control': 'no-cache',
  });
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  await new Promise<void>((done) => {
    const stream = createReadStream(file.path);
    stream.on('error', () => {
      res.destroy();
      done();
    });
    stream.on('end', done);
    stream.pipe(res);
  });
  return true;
}
