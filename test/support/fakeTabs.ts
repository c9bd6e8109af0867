/**
 * Tabs of one simulated browser in Node: a Web Locks manager shared by the tabs (queueing,
 * `signal`, `steal`) and Node's own BroadcastChannel. `kill()` is a tab crashing or being
 * closed: its locks go at once and it hears and says nothing more — but its engine object
 * keeps running, as a frozen tab that wakes up would.
 */
import type { SharedTabsOptions, TabChannel } from '../../src/index.js';

type Callback = (lock: unknown) => Promise<void>;

interface Holder {
  tab: FakeTab;
  end(stolen: boolean): void;
}

interface Waiter {
  tab: FakeTab;
  grant(): void;
  drop(): void;
}

const abortError = (what: string) => new DOMException(what, 'AbortError');

export class FakeBrowser {
  private readonly held = new Map<string, Holder>();
  private readonly queued = new Map<string, Waiter[]>();

  tab(takeoverMs = 1000): FakeTab {
    return new FakeTab(this, takeoverMs);
  }

  /** Who holds the lock `name`. */
  holder(name: string): FakeTab | undefined {
    return this.held.get(name)?.tab;
  }

  request(tab: FakeTab, name: string, options: { steal?: boolean; signal?: AbortSignal }, callback: Callback): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (tab.dead) return;
      const grant = (): void => {
        let done = false;
        const holder: Holder = {
          tab,
          end: (stolen) => {
            if (done) return;
            done = true;
            if (this.held.get(name) === holder) this.held.delete(name);
            // A frozen tab runs nothing: it hears of the theft when it thaws.
            if (stolen) tab.whenAwake(() => reject(abortError('The lock was stolen.')));
            this.next(name);
          },
        };
        this.held.set(name, holder);
        void Promise.resolve()
          .then(() => callback({ name }))
          .then(
            (value) => {
              if (done) return;
              holder.end(false);
              resolve(value);
            },
            (error: unknown) => {
              if (done) return;
              holder.end(false);
              reject(error);
            },
          );
      };
      if (options.steal) {
        this.held.get(name)?.end(true);
        grant();
        return;
      }
      const waiter: Waiter = { tab, grant, drop: () => reject(abortError('The request was aborted.')) };
      options.signal?.addEventListener('abort', () => {
        const queue = this.queued.get(name) ?? [];
        const at = queue.indexOf(waiter);
        if (at < 0) return;
        queue.splice(at, 1);
        waiter.drop();
      });
      if (!this.held.has(name)) grant();
      else this.queued.set(name, [...(this.queued.get(name) ?? []), waiter]);
    });
  }

  /** The tab is gone: its locks are freed, its queued requests dropped (they never settle). */
  kill(tab: FakeTab): void {
    for (const [name, queue] of this.queued) this.queued.set(name, queue.filter((waiter) => waiter.tab !== tab));
    for (const [name, holder] of [...this.held]) {
      if (holder.tab !== tab) continue;
      this.held.delete(name);
      this.next(name);
    }
  }

  private next(name: string): void {
    if (this.held.has(name)) return;
    const queue = this.queued.get(name) ?? [];
    const waiter = queue.shift();
    waiter?.grant();
  }
}

export class FakeTab {
  dead = false;
  private frozen = false;
  private readonly channels: BroadcastChannel[] = [];
  private readonly onThaw: (() => void)[] = [];
  /** The engine's `tabs` option for this tab. */
  readonly options: SharedTabsOptions;

  constructor(
    private readonly browser: FakeBrowser,
    takeoverMs: number,
  ) {
    this.options = {
      takeoverMs,
      locks: { request: (name: string, options: { steal?: boolean; signal?: AbortSignal }, callback: Callback) => browser.request(this, name, options, callback) },
      channel: (name: string): TabChannel => {
        const channel = new BroadcastChannel(name);
        this.channels.push(channel);
        const listeners: ((event: { data: unknown }) => void)[] = [];
        channel.addEventListener('message', (event) => {
          if (!this.frozen && !this.dead) for (const listener of listeners) listener(event as MessageEvent);
        });
        return {
          postMessage: (message) => {
            if (!this.frozen && !this.dead) channel.postMessage(message);
          },
          addEventListener: (_type, listener) => listeners.push(listener),
          close: () => channel.close(),
        };
      },
    };
  }

  whenAwake(run: () => void): void {
    if (this.frozen) this.onThaw.push(run);
    else run();
  }

  /** Closes the tab without a word: locks freed, channel closed. */
  kill(): void {
    this.dead = true;
    this.browser.kill(this);
    for (const channel of this.channels) channel.close();
  }

  /** Freezes the tab: it keeps its locks, and hears and says nothing, until it thaws. */
  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    for (const run of this.onThaw.splice(0)) run();
  }

  /** Closes its channels for good (the engine is gone too). */
  close(): void {
    for (const channel of this.channels) channel.close();
  }
}
