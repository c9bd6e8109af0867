/**
 * What every library in the browser benchmark writes, and what the server must hold after:
 * the Node benchmark's mixed workload (half creates, half updates of earlier records).
 */
import { mixedWorkload } from '../workload.js';

/** One write as every library receives it: a record id, a create or a shallow update. */
export interface BenchWrite {
  operation: 'create' | 'update';
  data: { id: string } & Record<string, unknown>;
}

export function benchWrites(count: number, prefix: string): BenchWrite[] {
  return mixedWorkload(count, 42, prefix).map(({ operation, data }) => ({
    operation: operation === 'create' ? 'create' : 'update',
    data: data as BenchWrite['data'],
  }));
}

/** The records the server must end with: creates, then each update merged in, top-level fields only. */
export function expectedRecords(writes: readonly BenchWrite[]): Map<string, Record<string, unknown>> {
  const records = new Map<string, Record<string, unknown>>();
  for (const { data } of writes) records.set(data.id, { ...records.get(data.id), ...data });
  return records;
}
