/**
 * The repository stands alone: its documentation links only to files it contains, and no
 * tracked file points readers at a design page that is not in the repository.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { documentationFiles, ROOT } from '../../scripts/docSnippets.js';

/** Tracked text files (what a clone holds), or nothing outside a git checkout. */
function trackedTextFiles(): string[] {
  let listed: string;
  try {
    listed = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  } catch {
    return [];
  }
  return listed.split('\0').filter((file) => file && !/\.(png|jpe?g|gif|ico|woff2?)$/.test(file) && file !== 'package-lock.json');
}

// The team's design page outside the repository; spelt in two parts so this file does not name it.
const OUTSIDE_PAGE = ['DESIGN', 'md'].join('.');

describe('the repository stands alone', () => {
  it(`no tracked file refers to ${OUTSIDE_PAGE}, which is not part of the repository`, () => {
    const hits: string[] = [];
    for (const file of trackedTextFiles()) {
      if (!existsSync(join(ROOT, file))) continue;
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, index) => {
          if (line.includes(OUTSIDE_PAGE)) hits.push(`${file}:${index + 1}`);
        });
    }
    expect(hits).toEqual([]);
  });

  it('every relative link in README.md and docs/ leads to a file of the repository', () => {
    const broken: string[] = [];
    for (const file of documentationFiles()) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target!) || target!.startsWith('#')) continue;
        const path = resolve(dirname(join(ROOT, file)), decodeURIComponent(target!.split('#')[0]!));
        if (relative(ROOT, path).startsWith('..') || !existsSync(path)) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
