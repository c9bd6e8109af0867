import { SyncInputError } from './errors.js';
import type { SyncOperation, SyncWrite } from './types.js';

const OPERATIONS: readonly SyncOperation[] = ['create', 'update', 'delete'];

/**
 * Checks a write against the configured entities and returns a deep copy of it that JSON
 * carries without loss (so later changes by the caller cannot reach the queue), or throws
 * a {@link SyncInputError} saying what is wrong and how to fix it.
 */
export function validateWrite(write: unknown, entities: readonly string[]): SyncWrite {
  if (write === null || typeof write !== 'object') {
    throw new SyncInputError(
      `A write must be an object { entity, operation, data }, got ${describe(write)}.`,
      write,
    );
  }
  const { entity, operation, data } = write as Record<string, unknown>;
  if (typeof entity !== 'string' || !entities.includes(entity)) {
    throw new SyncInputError(
      `Unknown entity ${describe(entity)}. Known entities: ${entities.join(', ') || '(none)'}; add it to options.entities or fix the write.`,
      write,
    );
  }
  if (!OPERATIONS.includes(operation as SyncOperation)) {
    throw new SyncInputError(
      `Unknown operation ${describe(operation)} for "${entity}". Use 'create', 'update' or 'delete'.`,
      write,
    );
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new SyncInputError(`The data of a ${operation as string} on "${entity}" must be an object, got ${describe(data)}.`, write);
  }
  const id = (data as { id?: unknown }).id;
  const hasId = (typeof id === 'string' && id !== '') || (typeof id === 'number' && Number.isFinite(id));
  if (operation !== 'create' && !hasId) {
    throw new SyncInputError(
      `A ${operation as string} on "${entity}" needs data.id (a non-empty string or a number) to name the record; got ${describe(id)}.`,
      write,
    );
  }
  if (operation === 'create' && id !== undefined && !hasId) {
    throw new SyncInputError(`data.id of a create on "${entity}" must be a non-empty string or a number, got ${describe(id)}.`, write);
  }
  return { entity, operation: operation as SyncOperation, data: jsonCopy(data, entity) };
}

/** A deep copy through JSON, refusing whatever JSON would drop or change silently. */
function jsonCopy(data: object, entity: string): unknown {
  const seen = new Set<object>();
  const check = (value: unknown, path: string): void => {
    switch (typeof value) {
      case 'function':
      case 'symbol':
      case 'bigint':
        throw new SyncInputError(
          `data${path} of a write to "${entity}" is a ${typeof value}, which JSON cannot carry. Send plain data (a BigInt as a string).`,
        );
      case 'number':
        if (!Number.isFinite(value)) {
          throw new SyncInputError(`data${path} of a write to "${entity}" is ${value}, which JSON cannot carry. Send null or a string.`);
        }
        return;
      case 'object': {
        if (value === null) return;
        if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return;
        if (seen.has(value)) {
          throw new SyncInputError(`data${path} of a write to "${entity}" refers back to itself (a cycle), which JSON cannot carry.`);
        }
        const proto = Object.getPrototypeOf(value);
        if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
          throw new SyncInputError(
            `data${path} of a write to "${entity}" is a ${proto?.constructor?.name ?? 'class instance'}, which JSON cannot carry faithfully. Convert it to a plain object or array.`,
          );
        }
        seen.add(value);
        for (const [key, inner] of Object.entries(value)) check(inner, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`);
        seen.delete(value);
        return;
      }
      default:
        return;
    }
  };
  check(data, '');
  return JSON.parse(JSON.stringify(data));
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  return typeof value === 'object' ? (Array.isArray(value) ? 'an array' : 'an object') : `${typeof value} ${String(value)}`;
}
