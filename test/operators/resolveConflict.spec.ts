import { describe, expect, it } from 'vitest';
import { map, of, throwError } from 'rxjs';
import { resolveConflict, type ResolveConflictConfig } from '../../src/operators/index.js';
import type { Conflict } from '../../src/index.js';
import { item, marbles } from '../marbles.js';

const remote = { id: '1', title: 'server', owner: 'ann', updatedAt: '2026-01-01T00:00:30.000Z' };
const conflictAt = (timestamp: string): Conflict => ({
  entity: 'todos',
  localItem: item('k1', 'update', { id: '1', title: 'mine' }, { timestamp }),
  remoteData: remote,
});
const older = conflictAt('2026-01-01T00:00:10.000Z');
const newer = conflictAt('2026-01-01T00:00:50.000Z');

const outcomes = (config: ResolveConflictConfig, conflict: Conflict) => {
  let seen: unknown;
  of(conflict).pipe(resolveConflict(config)).subscribe((c) => (seen = c.resolution));
  return seen;
};

describe('resolveConflict', () => {
  it('server-wins keeps the remote record', () => {
    expect(outcomes({ strategy: 'server-wins' }, newer)).toEqual({ strategy: 'server-wins', outcome: 'server-wins' });
  });

  it('client-wins re-sends the local change layered over the remote record', () => {
    expect(outcomes({ strategy: 'client-wins' }, older)).toEqual({
      strategy: 'client-wins',
      outcome: 'client-wins',
      data: { ...remote, title: 'mine' },
    });
  });

  it('last-write-wins compares the local timestamp with the remote updatedAt', () => {
    expect(outcomes({ strategy: 'last-write-wins' }, newer)).toMatchObject({ outcome: 'client-wins' });
    expect(outcomes({ strategy: 'last-write-wins' }, older)).toMatchObject({ outcome: 'server-wins' });
  });

  it('manual asks onConflict; a value means client-wins with that record', () => {
    const kept = { id: '1', title: 'merged' };
    expect(outcomes({ strategy: 'manual', onConflict: () => kept }, older)).toEqual({
      strategy: 'manual',
      outcome: 'client-wins',
      data: kept,
    });
  });

  it('manual: returning nothing or the remote record lets the server win; no onConflict means server-wins', () => {
    expect(outcomes({ strategy: 'manual', onConflict: () => undefined }, older)).toMatchObject({ outcome: 'server-wins' });
    expect(outcomes({ strategy: 'manual', onConflict: (c) => c.remoteData }, older)).toMatchObject({ outcome: 'server-wins' });
    expect(outcomes({ strategy: 'manual' }, older)).toMatchObject({ outcome: 'server-wins' });
  });

  it('manual: a throwing or failing onConflict gives outcome error, the stream lives on', () => {
    expect(outcomes({ strategy: 'manual', onConflict: () => { throw new Error('boom'); } }, older)).toMatchObject({
      outcome: 'error',
      error: '[rxsync] onConflict failed: boom',
    });
    expect(outcomes({ strategy: 'manual', onConflict: () => throwError(() => new Error('nope')) }, older)).toMatchObject({
      outcome: 'error',
    });
  });

  it('manual: onConflict may answer with a Promise', async () => {
    const resolution = await new Promise((resolve) =>
      of(older)
        .pipe(resolveConflict({ strategy: 'manual', onConflict: async () => ({ id: '1', title: 'later' }) }))
        .subscribe((c) => resolve(c.resolution)),
    );
    expect(resolution).toMatchObject({ outcome: 'client-wins', data: { id: '1', title: 'later' } });
  });

  it(
    'manual: an Observable answer is awaited; a slow one does not hold up the next conflict',
    marbles((m) => {
      const slow = { ...older, localItem: { ...older.localItem, id: 'slow' } };
      const fast = { ...older, localItem: { ...older.localItem, id: 'fast' } };
      const decided$ = m.cold('ab|', { a: slow, b: fast }).pipe(
        resolveConflict({
          strategy: 'manual',
          onConflict: (c) => m.cold(c.localItem.id === 'slow' ? '----r|' : '-r|', { r: { id: '1', by: c.localItem.id } }),
        }),
      );
      const ids = { s: 'slow', f: 'fast' };
      m.expect(decided$.pipe(resolveIds())).toBeObservable('--f-(s|)', ids);
    }),
  );

  it('a strategy function picks per conflict', () => {
    expect(outcomes({ strategy: (c) => (c.entity === 'todos' ? 'client-wins' : 'server-wins') }, older)).toMatchObject({
      outcome: 'client-wins',
    });
  });

  it('client-wins: a create is re-sent as it was, not layered over the remote record; an update over a remote that is not a record is re-sent as it was', () => {
    const create: Conflict = { entity: 'todos', localItem: item('k1', 'create', { id: '1', title: 'mine' }), remoteData: remote };
    expect(outcomes({ strategy: 'client-wins' }, create)).toEqual({ strategy: 'client-wins', outcome: 'client-wins', data: { id: '1', title: 'mine' } });
    const overText: Conflict = { ...older, remoteData: 'conflict' };
    expect(outcomes({ strategy: 'client-wins' }, overText)).toEqual({ strategy: 'client-wins', outcome: 'client-wins', data: { id: '1', title: 'mine' } });
  });

  it('manual: onConflict answering null lets the server win', () => {
    expect(outcomes({ strategy: 'manual', onConflict: () => null }, older)).toEqual({ strategy: 'manual', outcome: 'server-wins' });
  });
});

function resolveIds() {
  return map((c: Conflict) => c.localItem.id);
}
