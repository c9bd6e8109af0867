/**
 * The rxsync demo: a todo list that works offline. Plain DOM + TypeScript, bundled by
 * demo/build.ts and served by the reference server (same origin).
 *
 * The list the page shows is derived, never edited in place:
 *
 *   last known server state (saved in IndexedDB)  +  the engine's outbox (queue$) laid over it
 *
 * The server state is learnt from pulls (`onPull`) and from the server's answers to our own
 * writes (`pushed` and `conflict` events carry them), newest version wins;
 * so what you see after a reload is exactly what IndexedDB kept. Every edit is an rxsync write;
 * updates and deletes carry the `version` the todo was last pulled at, which the transport sends
 * as `If-Match`, so an edit made against a stale copy (another tab changed the todo) comes back
 * as a 409 conflict and is resolved by the strategy chosen with `?strategy=`.
 */
import localforage from 'localforage';
import {
  createSyncEngine,
  httpTransport,
  type Conflict,
  type ConflictStrategy,
  type SyncEvent,
  type SyncItem,
  type SyncStatusInfo,
} from '../src/index.js';
import type { ResolvedConflict, RxsyncDemo, Todo } from './types.js';

const STRATEGIES: readonly ConflictStrategy[] = ['last-write-wins', 'server-wins', 'client-wins', 'manual'];
const params = new URLSearchParams(location.search);
const strategy = pickStrategy(params.get('strategy'));

// ── small helpers ────────────────────────────────────────────────────────────────────────

type Child = Node | string | number | null | undefined | false;

/** `h('li', { class: 'row', 'data-id': id }, child, ...)`: an element with attributes and children. */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'number' ? String(child) : child);
  }
  return element;
}

function $(selector: string): HTMLElement {
  const element = document.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`demo: missing element ${selector} in index.html`);
  return element;
}

function pickStrategy(value: string | null): ConflictStrategy {
  return STRATEGIES.find((known) => known === value) ?? 'last-write-wins';
}

function numberParam(name: string, fallback: number): number {
  const value = Number(params.get(name));
  return params.has(name) && Number.isFinite(value) && value >= 0 ? value : fallback;
}

function newId(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function clock(date = new Date()): string {
  return date.toTimeString().slice(0, 8) + '.' + String(date.getMilliseconds()).padStart(3, '0');
}

function shortId(id: string): string {
  return id.length > 10 ? `${id.slice(0, 8)}…` : id;
}

function recordId(item: SyncItem): string {
  return String((item.data as { id?: unknown }).id ?? '');
}

/** The app fields of a record: without the server-owned `version`/`updatedAt`/`deleted`. */
function appFields(data: unknown): Partial<Todo> {
  const { version: _v, updatedAt: _u, deleted: _d, ...fields } = (data ?? {}) as Partial<Todo> & { deleted?: boolean };
  return fields;
}

/**
 * The storage name of this page: `?client=` names it, else every tab shares `shared`. Tabs on
 * one storage share one outbox: one tab leads and sends for all (see the "Tab" card); give a
 * tab its own `?client=` to give it its own outbox (two of them editing one todo make a conflict).
 */
function clientName(): string {
  const given = params.get('client');
  return given === null ? 'shared' : given.replace(/[^\w-]/g, '').slice(0, 40) || 'default';
}

// ── start ─────────────────────────────────────────────────────────────────────────────────

const client = clientName();
const outboxStorage = localforage.createInstance({ name: `rxsync-demo-${client}`, storeName: 'outbox' });
const todoStorage = localforage.createInstance({ name: `rxsync-demo-${client}-todos`, storeName: 'todos' });

/** A todo as the server last showed it; deleted ones are kept as tombstones so versions only go up. */
type Known = Todo & { deleted?: boolean };

/** Last known server state of every todo, by id. */
const server = new Map<string, Known>();
for (const todo of (await todoStorage.getItem<Known[]>('todos')) ?? []) server.set(todo.id, todo);
/**
 * The list's order: by `createdAt` (set by the page that created the todo, so every tab and
 * device agrees), then by when this page first saw the todo. Neither changes when a todo is
 * edited, pulled again or acknowledged, so rows never move; a pull, which answers in order of
 * last change, does not decide it.
 */
const seen = new Map<string, number>();
const seenRank = (id: string): number => {
  if (!seen.has(id)) seen.set(id, seen.size);
  return seen.get(id)!;
};
const listOrder = (a: Todo, b: Todo): number =>
  (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || seenRank(a.id) - seenRank(b.id);
const saveServer = (): Promise<unknown> => todoStorage.setItem('todos', [...server.values()].sort(listOrder));
const liveServerTodos = (): Todo[] => [...server.values()].filter((todo) => !todo.deleted);

/** Takes a record (or tombstone) the server sent, unless we already know a newer version of it. */
function learn(record: unknown): void {
  const r = record as Partial<Known> | null;
  if (!r || typeof r !== 'object' || typeof r.id !== 'string' || typeof r.version !== 'number') return;
  const known = server.get(r.id);
  if (known?.version !== undefined && r.version < known.version) return;
  server.set(r.id, r.deleted ? { id: r.id, title: '', done: false, version: r.version, deleted: true } : { ...r, id: r.id, title: r.title ?? '', done: r.done === true });
}

/** Conflicts waiting for a decision in the page (strategy `manual`). */
const pendingDecisions = new Map<Conflict, (kept: unknown) => void>();

const engine = createSyncEngine({
  entities: { todos: { endpoint: '/todos', conflictStrategy: strategy } },
  transport: httpTransport({ baseUrl: location.origin }),
  storage: outboxStorage,
  maxRetries: numberParam('maxRetries', 8),
  retryBaseDelayMs: numberParam('retryBaseDelayMs', 500),
  retryMaxDelayMs: numberParam('retryMaxDelayMs', 8000),
  productId: 'rxsync-demo',
  // ?autoPull=off keeps a tab stale on purpose (the conflict tests need a stale edit).
  autoPull: params.get('autoPull') === 'off' ? false : undefined,
  // ?tabs=off: this tab keeps its outbox to itself (another tab on it waits) instead of sharing it.
  tabs: params.get('tabs') === 'off' ? false : undefined,
  onPull: async (_entity, items) => {
    for (const record of items) learn(record);
    await saveServer();
    schedule();
  },
  // Only used with ?strategy=manual: the conflict panel asks, this waits for the answer.
  onConflict: (conflict) =>
    new Promise((resolve) => {
      pendingDecisions.set(conflict, resolve);
      schedule();
    }),
});

let status: SyncStatusInfo = engine.getStatus();
let queue: readonly SyncItem[] = [];
let failed: readonly SyncItem[] = [];
const conflicts: ResolvedConflict[] = [];
const events: SyncEvent[] = [];
const timeline: { at: Date; kind: string; text: string }[] = [];

// ── derived state ─────────────────────────────────────────────────────────────────────────

/** Server state with the queued writes applied in order: the list as the user expects it. */
function visibleTodos(): Map<string, Todo> {
  const todos = new Map(liveServerTodos().map((todo) => [todo.id, { ...todo }]));
  for (const item of queue) applyWrite(todos, item);
  for (const id of todos.keys()) seenRank(id);
  return new Map([...todos.values()].sort(listOrder).map((todo) => [todo.id, todo]));
}

function applyWrite(todos: Map<string, Todo>, item: SyncItem): void {
  const id = recordId(item);
  if (item.operation === 'delete') {
    todos.delete(id);
    return;
  }
  const base = item.operation === 'update' ? todos.get(id) : undefined;
  todos.set(id, { title: '', done: false, ...base, ...appFields(item.data), id });
}

/** Records with a write in the outbox: their shown state is not confirmed by the server yet. */
function pendingIds(): Set<string> {
  return new Set(queue.map(recordId));
}

/**
 * The version an edit is based on, sent as If-Match. Only when the todo has no write in the
 * outbox: a queued write already carries the base version (and a new edit merges into it),
 * and after an in-flight write the server's version has moved on by our own doing.
 */
function baseVersion(id: string): { version?: number } {
  if (queue.some((item) => recordId(item) === id)) return {};
  const known = server.get(id);
  return known?.version === undefined || known.deleted ? {} : { version: known.version };
}

// ── the app's writes ──────────────────────────────────────────────────────────────────────

async function add(title: string, id = newId()): Promise<string> {
  await engine.write({ entity: 'todos', operation: 'create', data: { id, title, done: false, createdAt: new Date().toISOString() } });
  return id;
}

async function rename(id: string, title: string): Promise<void> {
  await engine.write({ entity: 'todos', operation: 'update', data: { id, title, ...baseVersion(id) } });
}

async function toggle(id: string): Promise<void> {
  const todo = visibleTodos().get(id);
  if (!todo) throw new Error(`demo: no todo ${id}`);
  await engine.write({ entity: 'todos', operation: 'update', data: { id, done: !todo.done, ...baseVersion(id) } });
}

async function remove(id: string): Promise<void> {
  await engine.write({ entity: 'todos', operation: 'delete', data: { id, ...baseVersion(id) } });
}

// ── pulling: on load, when the queue drains, when the network comes back, on "Sync now" ───

let pulling = false;
let pullAgain = false;
async function requestPull(): Promise<void> {
  if (pulling) {
    pullAgain = true;
    return;
  }
  pulling = true;
  try {
    do {
      pullAgain = false;
      await engine.pull();
      demo.pulls++;
    } while (pullAgain);
  } finally {
    pulling = false;
  }
}

// ── wiring the engine's streams ───────────────────────────────────────────────────────────

function note(kind: string, text: string): void {
  timeline.unshift({ at: new Date(), kind, text });
  if (timeline.length > 200) timeline.length = 200;
}

engine.status$.subscribe((next) => {
  const previous = status;
  status = next;
  if (previous.online !== next.online) {
    note(next.online ? 'online' : 'offline', next.online ? 'the browser is online' : 'the browser went offline');
    if (next.online) void faultRequest('GET');
    else showFaultsNote('offline');
  }
  // Tabs sharing the outbox: the leading tab pulls for all of them (every tab gets the records).
  const leads = next.leader !== false;
  if (leads && next.online && ((previous.queueLength > 0 && next.queueLength === 0) || (!previous.online && next.queueLength === 0))) {
    void requestPull();
  }
  schedule();
});
engine.queue$.subscribe((items) => {
  queue = items;
  schedule();
});
engine.failed$.subscribe((items) => {
  failed = items;
  schedule();
});
engine.conflicts$.subscribe((conflict) => {
  conflicts.unshift(conflict);
  schedule();
});
/**
 * The server's answers to our own writes, seen on events$ before the write leaves the queue:
 * a push's body is the record as our write left it (with its new version), a conflict's remote
 * record is the server's current one. So the next edit can send the right If-Match without
 * waiting for a pull; `learn` keeps whichever version is newer (idempotent replays answer old bodies).
 */
function learnFromAnswer(event: SyncEvent): void {
  if (event.type === 'conflict') learn(event.conflict.remoteData);
  else if (event.type !== 'pushed') return;
  else if (event.status === 404 && event.item.operation === 'delete') {
    const known = server.get(recordId(event.item)); // already gone on the server
    if (known) server.set(known.id, { ...known, deleted: true });
  } else learn(event.body);
  void saveServer();
}

engine.events$.subscribe((event) => {
  learnFromAnswer(event);
  events.push(event);
  note(event.type, describeEvent(event));
  schedule();
});

function describeEvent(event: SyncEvent): string {
  const what = (item: SyncItem) => `${item.operation} ${shortId(recordId(item))}`;
  switch (event.type) {
    case 'pushed':
      return `${what(event.item)} → ${event.status}`;
    case 'retried':
      return `${what(event.item)}: retry ${event.attempt} in ${event.delayMs} ms (${event.error.replace(/^\[rxsync\] /, '')})`;
    case 'dead-lettered':
      return `${what(event.item)}: ${event.error.replace(/^\[rxsync\] /, '')}`;
    case 'conflict':
      return `${what(event.conflict.localItem)}: ${event.resolution.strategy} → ${event.resolution.outcome}`;
    case 'pulled':
      return `${event.count} todo${event.count === 1 ? '' : 's'} (checkpoint ${event.checkpoint ?? 'none'})`;
    case 'pull-failed':
      return event.error.replace(/^\[rxsync\] /, '');
    case 'sync-complete': {
      const r = event.result;
      return `${r.success ? 'ok' : 'incomplete'}: pushed ${r.pushed}, pulled ${r.pulled}, conflicts ${r.conflicts}, errors ${r.errors}`;
    }
    case 'input-dropped':
    case 'storage-error':
    case 'callback-error':
    case 'auth-required':
      return event.error;
    case 'id-assigned':
      return `${event.entity} ${shortId(String(event.tempId))} is ${String(event.id)} on the server`;
    case 'notice':
      return event.message;
  }
}

// ── rendering ─────────────────────────────────────────────────────────────────────────────

let scheduled = false;
function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    render();
  });
}

function render(): void {
  renderStatus();
  renderTodos();
  renderQueue();
  renderConflicts();
  renderTimeline();
}

function renderStatus(): void {
  const card = (label: string, value: string | number, tone = '') =>
    h('div', { class: `card ${tone}`, 'data-stat': label.toLowerCase().replace(/ /g, '-') }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, value));
  $('#stats').replaceChildren(
    card('Network', status.online ? 'online' : 'offline', status.online ? 'good' : 'bad'),
    card('Status', status.status, status.status === 'error' ? 'bad' : status.status === 'syncing' ? 'busy' : ''),
    card('Queue', status.queueLength, status.queueLength > 0 ? 'busy' : ''),
    card('In flight', status.inFlight),
    card('Dead letters', status.failedCount, status.failedCount > 0 ? 'bad' : ''),
    card('Conflicts', conflicts.length + pendingDecisions.size, conflicts.length + pendingDecisions.size > 0 ? 'warn' : ''),
    card('Tab', status.leader === undefined ? 'alone' : status.leader ? 'leader' : 'follower', status.leader ? 'good' : ''),
  );
  const detail = (label: string, value: string | undefined) => (value ? h('div', {}, h('dt', {}, label), h('dd', {}, value)) : null);
  const details = [
    detail('Last sync', status.lastSyncAt && clock(new Date(status.lastSyncAt))),
    detail('Next retry', status.nextRetryAt && clock(new Date(status.nextRetryAt))),
    detail('Last error', status.lastError?.replace(/^\[rxsync\] /, '')),
  ];
  $('#status-detail').replaceChildren(...details.filter((element) => element !== null));
  document.body.dataset.online = String(status.online);
}

interface Row {
  li: HTMLLIElement;
  check: HTMLInputElement;
  title: HTMLInputElement;
  meta: HTMLSpanElement;
}
const rows = new Map<string, Row>();

function renderTodos(): void {
  const list = $('#todos');
  const todos = [...visibleTodos().values()];
  const pending = pendingIds();
  todos.forEach((todo, index) => {
    const row = rows.get(todo.id) ?? createRow(todo.id);
    row.check.checked = todo.done;
    if (document.activeElement !== row.title && row.title.value !== todo.title) row.title.value = todo.title;
    row.li.classList.toggle('done', todo.done);
    row.li.classList.toggle('pending', pending.has(todo.id));
    const version = server.get(todo.id)?.version;
    row.meta.textContent = pending.has(todo.id) ? 'queued' : version === undefined ? 'sent' : `v${version}`;
    if (list.children[index] !== row.li) list.insertBefore(row.li, list.children[index] ?? null);
  });
  const shown = new Set(todos.map((todo) => todo.id));
  for (const [id, row] of rows) {
    if (shown.has(id)) continue;
    row.li.remove();
    rows.delete(id);
  }
  $('#todo-count').textContent = `${todos.length} todo${todos.length === 1 ? '' : 's'}`;
  $('#empty').hidden = todos.length > 0;
}

function createRow(id: string): Row {
  const check = h('input', { type: 'checkbox', class: 'toggle', 'aria-label': 'done' });
  const title = h('input', { type: 'text', class: 'title', 'aria-label': 'title' });
  const meta = h('span', { class: 'meta' });
  const del = h('button', { type: 'button', class: 'delete', title: 'Delete', 'aria-label': 'delete' }, '×');
  const li = h('li', { class: 'todo', 'data-id': id }, check, title, meta, del);
  check.addEventListener('change', () => void toggle(id));
  title.addEventListener('change', () => {
    const value = title.value.trim();
    if (value) void rename(id, value);
  });
  title.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') title.blur();
  });
  del.addEventListener('click', () => void remove(id));
  const row = { li, check, title, meta };
  rows.set(id, row);
  return row;
}

/** A todo's title where it is known (a deleted one: its last server title), else its id. */
function todoLabel(id: string, shown = visibleTodos()): string {
  const title = shown.get(id)?.title || server.get(id)?.title;
  return title ? (title.length > 24 ? `${title.slice(0, 23)}…` : title) : shortId(id);
}

function renderQueue(): void {
  const shown = visibleTodos();
  const label = (item: SyncItem) => todoLabel(recordId(item), shown);
  const describe = (item: SyncItem) => {
    const fields = appFields(item.data);
    delete fields.id;
    const version = (item.data as { version?: unknown }).version;
    return h(
      'li',
      { class: `item op-${item.operation}`, 'data-id': item.id },
      h('span', { class: 'op' }, item.operation),
      h('span', { class: 'rec', title: `record ${recordId(item)}, outbox item ${item.id}` }, label(item)),
      h('code', {}, JSON.stringify(fields)),
      version === undefined ? null : h('span', { class: 'tag' }, `If-Match ${String(version)}`),
      item.retryCount > 0 ? h('span', { class: 'tag warn' }, `retries ${item.retryCount}`) : null,
      item.lastError ? h('span', { class: 'error' }, item.lastError.replace(/^\[rxsync\] /, '')) : null,
    );
  };
  const limit = 30;
  const rows = queue.slice(0, limit).map(describe);
  if (queue.length > limit) rows.push(h('li', { class: 'more' }, `… and ${queue.length - limit} more`));
  $('#queue').replaceChildren(...rows);
  $('#queue-empty').hidden = queue.length > 0;
  $('#failed').replaceChildren(...failed.slice(0, limit).map(describe));
  $('#failed-box').hidden = failed.length === 0;
}

function renderConflicts(): void {
  const decisions = [...pendingDecisions].map(([conflict, decide]) => {
    const remote = conflict.remoteData as Partial<Todo>;
    const mine = h('button', { type: 'button', class: 'primary', 'data-decide': 'mine' }, 'Keep mine');
    const theirs = h('button', { type: 'button', 'data-decide': 'server' }, "Keep the server's");
    const settle = (kept: unknown) => {
      pendingDecisions.delete(conflict);
      decide(kept);
      schedule();
    };
    mine.addEventListener('click', () => settle({ ...appFields(remote), ...appFields(conflict.localItem.data) }));
    theirs.addEventListener('click', () => settle(undefined));
    return h(
      'li',
      { class: 'conflict ask', 'data-record': recordId(conflict.localItem) },
      h('div', { class: 'head' }, h('strong', {}, 'Decide: '), `${conflict.localItem.operation} of “${todoLabel(recordId(conflict.localItem))}”`),
      versions(conflict),
      h('div', { class: 'actions' }, mine, theirs),
    );
  });
  const resolved = conflicts.slice(0, 20).map((conflict) =>
    h(
      'li',
      { class: `conflict outcome-${conflict.resolution.outcome}`, 'data-record': recordId(conflict.localItem), 'data-outcome': conflict.resolution.outcome },
      h(
        'div',
        { class: 'head' },
        h('span', { class: 'strategy' }, conflict.resolution.strategy),
        ' → ',
        h('strong', {}, conflict.resolution.outcome),
        h('span', { class: 'rec' }, ` ${conflict.localItem.operation} of “${todoLabel(recordId(conflict.localItem))}”`),
      ),
      versions(conflict),
      conflict.resolution.outcome === 'error' ? h('div', { class: 'error' }, conflict.resolution.error) : null,
    ),
  );
  $('#conflicts').replaceChildren(...decisions, ...resolved);
  $('#conflicts-empty').hidden = decisions.length + resolved.length > 0;
}

function versions(conflict: Conflict): HTMLElement {
  const remote = conflict.remoteData as Partial<Todo>;
  const mine = appFields(conflict.localItem.data);
  delete mine.id;
  const theirs = appFields(remote);
  delete theirs.id;
  const based = (conflict.localItem.data as { version?: unknown }).version;
  return h(
    'dl',
    { class: 'versions' },
    h('dt', {}, `mine${based === undefined ? '' : ` (based on v${String(based)})`}`),
    h('dd', {}, h('code', {}, JSON.stringify(mine))),
    h('dt', {}, `server (v${String(remote?.version ?? '?')})`),
    h('dd', {}, h('code', {}, JSON.stringify(theirs))),
  );
}

function renderTimeline(): void {
  $('#timeline').replaceChildren(
    ...timeline.slice(0, 120).map((entry) =>
      h('li', { class: `event ev-${entry.kind}` }, h('time', {}, clock(entry.at)), h('span', { class: 'kind' }, entry.kind), h('span', { class: 'text' }, entry.text)),
    ),
  );
}

// ── controls ──────────────────────────────────────────────────────────────────────────────

$('#add-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('#new-title') as HTMLInputElement;
  const title = input.value.trim();
  if (!title) return;
  input.value = '';
  void add(title);
});
$('#sync-now').addEventListener('click', () => {
  void engine.fullSync().then(() => demo.pulls++);
});
$('#retry-failed').addEventListener('click', () => void engine.reprocessFailed());
$('#clear-outbox').addEventListener('click', () => {
  if (confirm('Drop every queued write and dead letter? They will never reach the server.')) void engine.clearQueue();
});
$('#clear-timeline').addEventListener('click', () => {
  timeline.length = 0;
  schedule();
});

const strategySelect = $('#strategy') as HTMLSelectElement;
strategySelect.replaceChildren(...STRATEGIES.map((name) => h('option', { value: name, selected: name === strategy }, name)));
strategySelect.addEventListener('change', () => {
  const next = new URL(location.href);
  next.searchParams.set('strategy', strategySelect.value);
  location.assign(next);
});
$('#client').textContent = client;
$('#driver').textContent = outboxStorage.driver() ?? 'none';

// Fault injection of the reference server (POST /__faults). Admin routes are never faulted.
const FAULTS = [
  { key: 'failureRate', on: 0.3, label: '30% 503s' },
  { key: 'dropResponseRate', on: 0.3, label: '30% dropped answers' },
  { key: 'latencyMs', on: 1500, label: '1.5 s latency' },
] as const;
type FaultState = Partial<Record<(typeof FAULTS)[number]['key'], number>>;
let faults: FaultState = {};

/** Under the fault switches: nothing, a plain "offline" (expected, not an error), or a real error in red. */
function showFaultsNote(note: 'none' | 'offline' | { error: string }): void {
  const element = $('#faults-error');
  element.textContent =
    note === 'none' ? '' : note === 'offline' ? 'Offline: the switches work again once the server can be reached.' : `Could not reach /__faults: ${note.error}`;
  element.className = typeof note === 'object' ? 'error' : 'muted';
}

async function faultRequest(method: 'GET' | 'POST' | 'DELETE', body?: FaultState): Promise<void> {
  if (!navigator.onLine) {
    showFaultsNote('offline');
    return;
  }
  try {
    const response = await fetch(`${location.origin}/__faults`, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
    faults = (await response.json()) as FaultState;
    showFaultsNote('none');
  } catch (error) {
    // fetch rejects with a TypeError when no answer came at all: the network, not the server.
    showFaultsNote(error instanceof TypeError || !navigator.onLine ? 'offline' : { error: (error as Error).message });
  }
  renderFaults();
}

function renderFaults(): void {
  $('#faults').replaceChildren(
    ...FAULTS.map(({ key, on, label }) => {
      const active = (faults[key] ?? 0) > 0;
      const button = h('button', { type: 'button', class: active ? 'fault on' : 'fault', 'aria-pressed': String(active), 'data-fault': key }, label);
      button.addEventListener('click', () => void faultRequest('POST', { [key]: active ? 0 : on }));
      return button;
    }),
    (() => {
      const reset = h('button', { type: 'button', class: 'fault reset' }, 'No faults');
      reset.addEventListener('click', () => void faultRequest('DELETE'));
      return reset;
    })(),
  );
}

// Cache the app shell so the page (and its IndexedDB outbox) also loads offline.
if ('serviceWorker' in navigator && params.get('sw') !== '0') {
  navigator.serviceWorker.register('./sw.js').catch((error: unknown) => note('storage-error', `service worker: ${String(error)}`));
  let reloadHinted = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    // A new build took over from an older one: this page still runs the old code.
    if (!reloadHinted && navigator.serviceWorker.controller && document.documentElement.dataset.controlled === 'true') {
      reloadHinted = true;
      $('#update').hidden = false;
    }
  });
  document.documentElement.dataset.controlled = String(navigator.serviceWorker.controller !== null);
}

// ── expose for the console and the e2e tests ──────────────────────────────────────────────

const demo: RxsyncDemo = {
  engine,
  strategy,
  client,
  storageDriver: outboxStorage.driver() ?? 'none',
  loaded: false,
  todos: () => [...visibleTodos().values()],
  serverTodos: liveServerTodos,
  queue: () => queue,
  conflicts,
  events,
  pulls: 0,
  add,
  rename,
  toggle,
  remove,
};
window.rxsyncDemo = demo;

render();
renderFaults();
void faultRequest('GET');
await engine.ready;
demo.storageDriver = outboxStorage.driver() ?? 'none';
$('#driver').textContent = demo.storageDriver;
note('loaded', `outbox read from ${demo.storageDriver}: ${engine.getQueueLength()} queued, ${failed.length} dead letters; ${liveServerTodos().length} todos saved`);
demo.loaded = true;
document.body.dataset.loaded = 'true';
schedule();
if (engine.getStatus().online && engine.getStatus().leader !== false && engine.getQueueLength() === 0) void requestPull();
