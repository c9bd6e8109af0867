/**
 * One engine per outbox: where the Web Locks API exists (browsers), the engine holds the lock
 * named after its outbox (database + storageKey) from load until its last write is stored. A second tab (or engine) on
 * the same storage waits for it instead of interleaving its log with the first one's, which
 * would lose writes. `onWait` is called once if the lock is taken. Locks die with their tab.
 *
 * Resolves once the lock is held (at once where there are no Web Locks).
 */
export function holdWebLock(name: string, until: Promise<unknown>, onWait: () => void): Promise<void> {
  const locks = typeof navigator === 'undefined' ? undefined : (navigator as { locks?: LockManager }).locks;
  if (!locks) return Promise.resolve();
  return new Promise<void>((held) => {
    const hold = async (): Promise<void> => {
      held();
      await until;
    };
    void locks.request(name, { ifAvailable: true }, async (lock) => {
      if (lock) return hold();
      onWait();
      return locks.request(name, hold);
    });
  });
}
