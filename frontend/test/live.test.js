import { describe, expect, it } from 'vitest';
import { createCache, clearAllCaches } from '../src/lib/cache.js';
import { applyPresence, mergeMessages, profilePatch, upsertMatch } from '../src/lib/live.js';

describe('mergeMessages', () => {
  it('keeps each message once, ordered by id, the newest copy winning', () => {
    const history = [{ id: 3, content: 'c' }, { id: 1, content: 'a' }];
    const merged = mergeMessages(history, [{ id: 2, content: 'b' }, { id: 3, content: 'c2' }, null, { content: 'no id' }]);
    expect(merged.map((m) => [m.id, m.content])).toEqual([[1, 'a'], [2, 'b'], [3, 'c2']]);
    expect(history).toHaveLength(2); // not changed in place
  });
});

describe('applyPresence', () => {
  const ana = { id: 1, username: 'ana' };
  const ben = { id: 2, username: 'ben' };
  it('takes the full list on join, then deltas', () => {
    let l = applyPresence([], { type: 'active', users: [ana, ana] });
    expect(l).toEqual([ana]);
    l = applyPresence(l, { type: 'joined', user: ben });
    l = applyPresence(l, { type: 'joined', user: ben });
    expect(l).toEqual([ana, ben]);
    l = applyPresence(l, { type: 'left', userId: 1 });
    expect(l).toEqual([ben]);
    expect(applyPresence(l, { type: 'joined' })).toBe(l);
    expect(applyPresence(l, { type: 'other' })).toBe(l);
  });
});

describe('upsertMatch', () => {
  const full = { id: 5, status: 'pending', requester: { id: 1 }, target: { id: 2 } };
  it('updates a match in place keeping its profiles, or adds a new one on top', () => {
    const l = upsertMatch([full], { id: 5, status: 'accepted' });
    expect(l).toEqual([{ ...full, status: 'accepted' }]);
    expect(upsertMatch(l, { id: 6, status: 'pending' }).map((m) => m.id)).toEqual([6, 5]);
    expect(upsertMatch(l, { id: 6, status: 'pending' }, false)).toBe(l);
  });
});

describe('profilePatch', () => {
  const before = { displayName: 'Ana', avatarUrl: null, wsdcId: 123, bio: 'hi' };
  it('sends only what changed, clears emptied fields, numbers the WSDC id', () => {
    expect(profilePatch(before, { displayName: 'Ana', avatarUrl: '', wsdcId: '123', bio: 'hi' })).toEqual({});
    expect(profilePatch(before, { displayName: ' Ana B ', avatarUrl: 'https://x.test/a.png', wsdcId: '456', bio: '' })).toEqual({
      displayName: 'Ana B',
      avatarUrl: 'https://x.test/a.png',
      wsdcId: 456,
      bio: null,
    });
    // Not digits: sent as typed, the API explains what is wrong.
    expect(profilePatch(before, { ...before, wsdcId: '12a' })).toEqual({ wsdcId: '12a' });
  });
});

describe('cache', () => {
  it('serves a value until it expires, then loads again', async () => {
    const c = createCache(1000);
    let n = 0;
    const load = async () => ++n;
    expect(await c.get('k', load, 0)).toBe(1);
    expect(await c.get('k', load, 999)).toBe(1);
    expect(await c.get('k', load, 1000)).toBe(2);
  });

  it('does not remember a failure', async () => {
    const c = createCache(1000);
    await expect(c.get('k', async () => Promise.reject(new Error('down')), 0)).rejects.toThrow('down');
    await new Promise((r) => setTimeout(r, 0));
    expect(await c.get('k', async () => 'up', 1)).toBe('up');
  });

  it('is emptied with every other cache on logout', async () => {
    const a = createCache();
    const b = createCache();
    a.set('x', 1);
    b.set('y', 2);
    clearAllCaches();
    expect(a.size + b.size).toBe(0);
  });
});
