/** Summarizes a CDP CPU profile of the benchmark page: where the time went, by kind and by function. */

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The kind of code a bundle module is. */
function kind(module: string): string {
  if (module.startsWith('src/')) return 'rxsync';
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module);
  return pkg ? pkg[1] : 'benchmark page';
}

/**
 * Self time per kind (`(idle)`, `(garbage collector)`, browser built-ins such as `fetch`, or the
 * package a bundle line belongs to) and the functions with the most self time.
 */
export function summarizeProfile(profile: CpuProfile, moduleOf: (line: number) => string): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
  const total = profile.endTime - profile.startTime;
  const byKind = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    let k: string;
    let name: string;
    if (!url) {
      k = functionName.startsWith('(') ? functionName : `browser built-in`;
      name = functionName || '(anonymous built-in)';
    } else if (url.endsWith('/page.js')) {
      const module = moduleOf(lineNumber);
      k = kind(module);
      name = `${functionName || '(anonymous)'} (${module})`;
    } else {
      k = 'other script';
      name = `${functionName || '(anonymous)'} (${url})`;
    }
    byKind.set(k, (byKind.get(k) ?? 0) + us);
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1)}%`;
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  const lines = [`Profiled ${(total / 1e6).toFixed(1)} s (self time; sampling every 0.5 ms).`, '', '| kind of code | self time |', '|---|---|'];
  for (const [k, us] of top(byKind, 12)) lines.push(`| ${k} | ${pct(us)} |`);
  lines.push('', '| function (module) | self time |', '|---|---|');
  for (const [name, us] of top(byFunction, 15)) lines.push(`| ${name.replace(/\|/g, '\\|')} | ${pct(us)} |`);
  return lines.join('\n');
}
