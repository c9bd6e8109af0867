import type { CaseResult, CaseStatus } from './cases.js';

const LABEL: Record<CaseStatus, string> = { pass: 'pass', fail: 'FAIL', unsupported: 'unsupported', skipped: 'skipped' };

/** The results as a plain-text table, then what each failure means for an app using rxsync. */
export function formatReport(results: readonly CaseResult[], target: string): string {
  const rows = results.map((r) => [LABEL[r.status], r.id, r.detail]);
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column].length), column === 0 ? 'result'.length : 'case'.length));
  const line = (cells: string[]) => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell)).join('  ');
  const count = (status: CaseStatus) => results.filter((r) => r.status === status).length;
  const failures = results.filter((r) => r.status === 'fail');
  return [
    `rxsync-check ${target}`,
    '',
    line(['result', 'case', 'what was seen']),
    line(['-'.repeat(widths[0]), '-'.repeat(widths[1]), '-'.repeat(13)]),
    ...rows.map(line),
    '',
    `${count('pass')} passed, ${count('fail')} failed, ${count('unsupported')} unsupported, ${count('skipped')} skipped`,
    ...(failures.length === 0 ? [] : ['', 'What the failures mean for apps using rxsync:', ...failures.map((r) => `- ${r.id} (${r.title}): ${r.meaning ?? ''}`)]),
    '',
  ].join('\n');
}
