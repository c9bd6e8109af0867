/**
 * `npm run check:docs`: typechecks (and runs, where marked) the TypeScript blocks of README.md
 * and docs/, printing each problem at its line in the Markdown file. npm test does the same
 * in test/docs/snippets.spec.ts.
 */
import { checkSnippets, documentationSnippets } from './docSnippets.js';

const snippets = await documentationSnippets();
const problems = await checkSnippets(snippets);
for (const problem of problems) console.error(problem.messages.join('\n'));
const checked = snippets.filter((snippet) => !snippet.skip);
console.log(
  `${checked.length} TypeScript blocks checked (${checked.filter((snippet) => snippet.run).length} run), ` +
    `${snippets.length - checked.length} marked no-check, ${problems.length} with problems`,
);
process.exitCode = problems.length === 0 ? 0 : 1;
