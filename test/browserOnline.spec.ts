import { describe, expect, it } from 'vitest';
import { firstValueFrom, take, toArray } from 'rxjs';
import { browserOnline$ } from '../src/index.js';

describe('browserOnline$', () => {
  it('follows the online and offline events of the window, without repeating itself', async () => {
    const win = new EventTarget();
    const seen: boolean[] = [];
    const subscription = browserOnline$(win).subscribe((online) => seen.push(online));
    win.dispatchEvent(new Event('offline'));
    win.dispatchEvent(new Event('offline'));
    win.dispatchEvent(new Event('online'));
    subscription.unsubscribe();
    win.dispatchEvent(new Event('offline'));
    // Node 20 has no navigator: the first value is "online".
    expect(seen).toEqual([true, false, true]);
  });

  it('starts from navigator.onLine where there is one', async () => {
    const original = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    Object.defineProperty(globalThis, 'navigator', { value: { onLine: false }, configurable: true });
    try {
      expect(await firstValueFrom(browserOnline$(new EventTarget()))).toBe(false);
    } finally {
      if (original) Object.defineProperty(globalThis, 'navigator', original);
      else delete (globalThis as { navigator?: unknown }).navigator;
    }
  });

  it('outside a browser it says online once and stays there', async () => {
    expect(await firstValueFrom(browserOnline$(undefined).pipe(take(1), toArray()))).toEqual([true]);
  });
});
