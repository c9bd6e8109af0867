/**
 * `rxsync-check <baseUrl> --entity todos [--header "Authorization: Bearer …"]… [--json]`:
 * runs the protocol cases of docs/PROTOCOL.md against a live API and prints what passed.
 * Exit code 0 when nothing failed, 1 when a case failed, 2 when it could not run.
 */
import { parseArgs } from 'node:util';
import { formatReport } from './report.js';
import { runCheck } from './runCheck.js';

const USAGE = `Usage: rxsync-check <baseUrl> [--entity todos] [--header "Name: value"]... [--timeout ms] [--json]

Checks an API against the rxsync wire protocol (docs/PROTOCOL.md). It writes a few records
with ids starting "rxsync-check-" to the entity and deletes them again: use a staging server.`;

/** The command line, minus `node` and the script: prints the report, resolves with the exit code. */
export async function main(argv: readonly string[], print: (text: string) => void = console.log): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        entity: { type: 'string', short: 'e', default: 'todos' },
        header: { type: 'string', short: 'H', multiple: true, default: [] },
        timeout: { type: 'string', default: '10000' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    print(`[rxsync] ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    print(USAGE);
    return 0;
  }
  const baseUrl = positionals[0];
  const timeoutMs = Number(values.timeout);
  const headers: Record<string, string> = {};
  for (const header of values.header) {
    const at = header.indexOf(':');
    if (at <= 0) {
      print(`[rxsync] --header "${header}" is not "Name: value".\n\n${USAGE}`);
      return 2;
    }
    headers[header.slice(0, at).trim()] = header.slice(at + 1).trim();
  }
  if (positionals.length !== 1 || !/^https?:\/\/[^/]/.test(baseUrl) || !(timeoutMs > 0)) {
    print(`[rxsync] Give one http(s) base URL${timeoutMs > 0 ? '' : ' and a positive --timeout'}.\n\n${USAGE}`);
    return 2;
  }
  try {
    await fetch(baseUrl, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    print(`[rxsync] Could not reach ${baseUrl} (${error instanceof Error ? error.message : String(error)}). Is the server running, and is the URL right?`);
    return 2;
  }
  const results = await runCheck({ baseUrl, entity: values.entity, headers, timeoutMs });
  print(values.json ? JSON.stringify(results, null, 2) : formatReport(results, `${baseUrl} --entity ${values.entity}`));
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
