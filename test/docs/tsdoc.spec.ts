/**
 * Every export of the package's entry points has TSDoc on its declaration, and so has every
 * public member of an exported interface or class (options, engine members, error fields):
 * what a user sees on hover is never blank. Read with the TypeScript compiler's own API
 * over tsconfig.build.json, following re-exports to the declaration. docs/API.md names
 * every export.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API, SymbolFlags, type Checker, type Project, type Symbol } from 'typescript/unstable/sync';
import { SyntaxKind, type Node } from 'typescript/unstable/ast';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/docSnippets.js';

/** The source file each entry point of package.json's `exports` is built from. */
const ENTRY_POINTS = ['src/index.ts', 'src/operators/index.ts'];
const HIDDEN = new Set<SyntaxKind>([SyntaxKind.PrivateKeyword, SyntaxKind.ProtectedKeyword, SyntaxKind.OverrideKeyword]);

function exportsOf(project: Project, checker: Checker, entry: string): readonly Symbol[] {
  const file = project.program.getSourceFile(join(ROOT, entry));
  const module = file && checker.getSymbolAtLocation(file as unknown as Node);
  if (!module) throw new Error(`${entry} is not part of tsconfig.build.json`);
  return checker.getExportsOfModule(module);
}

/** `name` and `Name.member` of every export (and public member) without TSDoc. */
function undocumented(project: Project, checker: Checker, entry: string): string[] {
  const missing: string[] = [];
  const documented = (symbol: Symbol): boolean => symbol.getDocumentationComment(checker).trim() !== '';
  for (const exported of exportsOf(project, checker, entry)) {
    const symbol = exported.flags & SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (!documented(symbol)) missing.push(exported.name);
    if (!(symbol.flags & (SymbolFlags.Interface | SymbolFlags.Class))) continue;
    for (const member of symbol.getMembers().values()) {
      // Type parameters and constructors are described on their declaration; private (`private`
      // or `#name`), protected and overriding members are not this type's own public surface.
      if (member.flags & (SymbolFlags.TypeParameter | SymbolFlags.Constructor)) continue;
      const declaration = member.declarations[0]?.resolve(project) as (Node & { modifiers?: readonly Node[]; name?: Node }) | undefined;
      if (declaration?.modifiers?.some((modifier) => HIDDEN.has(modifier.kind))) continue;
      if (declaration?.name?.kind === SyntaxKind.PrivateIdentifier) continue;
      if (!documented(member)) missing.push(`${exported.name}.${member.name}`);
    }
  }
  return missing;
}

describe('TSDoc on the public API', () => {
  let api: API;
  let project: Project;

  beforeAll(() => {
    api = new API({ cwd: ROOT });
    const config = join(ROOT, 'tsconfig.build.json');
    const found = api.updateSnapshot({ openProjects: [config] }).getProject(config);
    if (!found) throw new Error('tsconfig.build.json did not load');
    project = found;
  });
  afterAll(() => {
    api?.close();
  });

  it.each(ENTRY_POINTS)('every export of %s and every public member of its interfaces and classes has TSDoc', (entry) => {
    expect(undocumented(project, project.checker, entry)).toEqual([]);
  });

  it.each(ENTRY_POINTS)('docs/API.md names every export of %s', (entry) => {
    const reference = readFileSync(join(ROOT, 'docs', 'API.md'), 'utf8');
    const names = exportsOf(project, project.checker, entry).map((symbol) => symbol.name);
    expect(names.filter((name) => !reference.includes(`\`${name}\``) && !reference.includes(`\`${name}(`))).toEqual([]);
  });
});
