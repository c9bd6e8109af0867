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
  const copied = jsonCopy(data, entity) as { id?: unknown };
  // Read from the copy: only its own keys are sent, so only they may name the record.
  const id = copied.id;
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
  const problem = hasId ? idProblem(id as string | number) : undefined;
  if (problem !== undefined) {
    throw new SyncInputError(`data.id of a ${operation as string} on "${entity}" ${problem}`, write);
  }
  return { entity, operation: operation as SyncOperation, data: copied };
}

/** Half of a UTF-16 pair on its own: with the `u` flag a whole pair is one code point and does not match. */
const LONE_SURROGATE = /\p{Cs}/u;
const nativeWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
/** `isWellFormed` where the runtime has it (faster: it runs on every string of every write), else the regex. */
const hasLoneSurrogate: (text: string) => boolean =
  nativeWellFormed === undefined ? (text) => LONE_SURROGATE.test(text) : (text) => !nativeWellFormed.call(text);
const LONE_SURROGATE_PROBLEM = 'contains a lone surrogate (half of a UTF-16 pair, e.g. an emoji cut in two by slice()), which UTF-8 and URLs cannot carry. Fix the string, e.g. slice by code points with Array.from(text).';

/**
 * Why a record id cannot name its record in a URL (`{endpoint}/{id}`), or `undefined` when
 * it can. `.` and `..` are path steps to URL parsing, percent-encoded or not (`%2e%2e`), so
 * the request would reach the collection or its parent instead of the record.
 */
export function idProblem(id: string | number): string | undefined {
  if (typeof id === 'number') return Number.isFinite(id) ? undefined : `is ${id}, which cannot name a record. Use a finite number or a string.`;
  if (id === '') return 'is empty, which cannot name a record. Use a non-empty string or a number.';
  if (hasLoneSurrogate(id)) return LONE_SURROGATE_PROBLEM;
  let decoded = id;
  // Servers and proxies may decode more than once; stop when nothing changes.
  for (let i = 0; i < 3 && decoded.includes('%'); i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      break;
    }
    if (next === decoded) break;
    decoded = next;
  }
  if (decoded === '.' || decoded === '..') {
    return `is ${JSON.stringify(id)}, which a URL cannot carry: URL parsing reads it as "this folder" or "the parent folder", so the request would reach another address. Use another id (e.g. a UUID).`;
  }
  return undefined;
}

/** Where a deep copy is: the entity for messages, the path and the objects above it. */
interface Walk {
  entity: string;
  path: (string | number)[];
  /** A short array beats a Set at the depths data has. */
  ancestors: object[];
}

/**
 * A deep copy as JSON would make it, refusing whatever JSON would drop or change silently.
 * One walk does both; the path in a message is only built when something is wrong.
 */
function jsonCopy(data: object, entity: string): unknown {
  return copy(data, { entity, path: [], ancestors: [] });
}

function copy(value: unknown, walk: Walk): unknown {
  switch (typeof value) {
    case 'string':
      return hasLoneSurrogate(value) ? refuse(walk, LONE_SURROGATE_PROBLEM) : value;
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : refuse(walk, `is ${value}, which JSON cannot carry. Send null or a string.`);
    case 'function':
    case 'symbol':
    case 'bigint':
      return refuse(walk, `is a ${typeof value}, which JSON cannot carry. Send plain data (a BigInt as a string).`);
    case 'undefined':
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') return JSON.parse(JSON.stringify(object));
  if (walk.ancestors.includes(object)) return refuse(walk, 'refers back to itself (a cycle), which JSON cannot carry.');
  walk.ancestors.push(object);
  let result: unknown;
  if (Array.isArray(object)) {
    result = object.map((inner, i) => {
      walk.path.push(i);
      const copied = copy(inner, walk);
      walk.path.pop();
      return copied === undefined ? null : copied;
    });
  } else {
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      refuse(walk, `is a ${proto?.constructor?.name ?? 'class instance'}, which JSON cannot carry faithfully. Convert it to a plain object or array.`);
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(object)) {
      walk.path.push(key);
      if (hasLoneSurrogate(key)) refuse(walk, `(the key) ${LONE_SURROGATE_PROBLEM}`);
      const copied = copy((object as Record<string, unknown>)[key], walk);
      walk.path.pop();
      if (copied === undefined) continue;
      // Plain assignment of "__proto__" would set the copy's prototype (and drop the key);
      // JSON.parse makes it an own key, and so must the copy.
      if (key === '__proto__') Object.defineProperty(out, key, { value: copied, enumerable: true, writable: true, configurable: true });
      else out[key] = copied;
    }
    result = out;
  }
  walk.ancestors.pop();
  return result;
}

function refuse({ entity, path }: Walk, problem: string): never {
  const at = path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${key}`)).join('');
  throw new SyncInputError(`data${at} of a write to "${entity}" ${problem}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  return typeof value === 'object' ? (Array.isArray(value) ? 'an array' : 'an object') : `${typeof value} ${String(value)}`;
}
