import { describe, expect, it } from 'vitest';
import { displayName, formatDateRange, formatMessageTime, formatStats, initials, isHttpUrl, linkify, newClientId, partnerOf } from '../src/lib/format.js';

describe('isHttpUrl', () => {
  it('accepts one http(s) URL and nothing else', () => {
    expect(isHttpUrl('https://drive.example.com/v/123')).toBe(true);
    expect(isHttpUrl('  http://example.com  ')).toBe(true);
    expect(isHttpUrl('see https://example.com')).toBe(false);
    expect(isHttpUrl('javascript:alert(1)')).toBe(false);
    expect(isHttpUrl('ftp://example.com')).toBe(false);
    expect(isHttpUrl('https://')).toBe(false);
    expect(isHttpUrl(undefined)).toBe(false);
  });
});

describe('linkify', () => {
  it('splits text and links, in order', () => {
    expect(linkify('video: https://example.com/a?b=1 thanks')).toEqual([
      { type: 'text', text: 'video: ' },
      { type: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { type: 'text', text: ' thanks' },
    ]);
  });

  it('leaves sentence punctuation out of the link', () => {
    const parts = linkify('Here: https://example.com/x. And (https://example.com/y), ok?');
    expect(parts.filter((p) => p.type === 'link').map((p) => p.href)).toEqual(['https://example.com/x', 'https://example.com/y']);
    expect(parts.map((p) => p.text).join('')).toBe('Here: https://example.com/x. And (https://example.com/y), ok?');
  });

  it('keeps a parenthesis that belongs to the link', () => {
    expect(linkify('https://en.wikipedia.org/wiki/Swing_(dance)')[0].href).toBe('https://en.wikipedia.org/wiki/Swing_(dance)');
  });

  it('never makes a link of other schemes', () => {
    expect(linkify('javascript:alert(1) data:text/html,x')).toEqual([{ type: 'text', text: 'javascript:alert(1) data:text/html,x' }]);
  });

  it('gives nothing for empty or non-text content', () => {
    expect(linkify('')).toEqual([]);
    expect(linkify(null)).toEqual([]);
  });
});

describe('names', () => {
  it('prefers the display name, else @username', () => {
    expect(displayName({ username: 'ana', displayName: 'Ana B' })).toBe('Ana B');
    expect(displayName({ username: 'ana', displayName: '  ' })).toBe('@ana');
    expect(displayName({ id: 3 })).toBe('Unknown dancer');
    expect(displayName(null)).toBe('Unknown dancer');
  });

  it('makes initials for an avatar placeholder', () => {
    expect(initials({ displayName: 'Ana Banana' })).toBe('AB');
    expect(initials({ username: 'ben_c' })).toBe('BC');
    expect(initials({ username: 'zoe' })).toBe('ZO');
    expect(initials(null)).toBe('?');
  });
});

describe('formatDateRange', () => {
  it('writes an event’s days compactly', () => {
    expect(formatDateRange('2027-11-24', '2027-11-28')).toBe('24–28 Nov 2027');
    expect(formatDateRange('2027-11-30', '2027-12-02')).toBe('30 Nov – 2 Dec 2027');
    expect(formatDateRange('2027-12-30', '2028-01-02')).toBe('30 Dec 2027 – 2 Jan 2028');
    expect(formatDateRange('2027-05-01', '2027-05-01')).toBe('1 May 2027');
    expect(formatDateRange('2027-05-01', null)).toBe('1 May 2027');
    expect(formatDateRange('garbage', '2027-05-01')).toBe('');
  });
});

describe('formatMessageTime', () => {
  const now = new Date('2026-11-25T21:30:00Z');
  it('shows the time today, "Yesterday", the day this year, the year otherwise', () => {
    expect(formatMessageTime('2026-11-25T21:02:23.655Z', now, 'UTC')).toBe('21:02');
    expect(formatMessageTime('2026-11-24T08:05:00Z', now, 'UTC')).toBe('Yesterday 08:05');
    expect(formatMessageTime('2026-03-03T10:00:00Z', now, 'UTC')).toBe('3 Mar 10:00');
    expect(formatMessageTime('2025-12-31T23:59:00Z', now, 'UTC')).toBe('31 Dec 2025 23:59');
  });

  it('uses the viewer’s time zone', () => {
    // 21:02 UTC is already the next day in Tokyo.
    expect(formatMessageTime('2026-11-25T21:02:00Z', new Date('2026-11-26T01:00:00Z'), 'Asia/Tokyo')).toBe('06:02');
  });

  it('gives nothing for a bad time', () => {
    expect(formatMessageTime('not a time', now, 'UTC')).toBe('');
  });
});

describe('formatStats', () => {
  it('summarises rating stats', () => {
    expect(formatStats({ count: 3, average: 4.33, wouldCollaborateAgainShare: 0.67 })).toBe('4.3 ★ (3 ratings) · 67% would film again');
    expect(formatStats({ count: 1, average: 5, wouldCollaborateAgainShare: 1 })).toBe('5.0 ★ (1 rating) · 100% would film again');
    expect(formatStats({ count: 0, average: null, wouldCollaborateAgainShare: null })).toBe('No ratings yet');
    expect(formatStats(null)).toBe('No ratings yet');
  });
});

describe('partnerOf', () => {
  const match = { requesterId: 1, targetId: 2, requester: { id: 1, username: 'a' }, target: null };
  it('is the other member, with an id even when the profile is missing', () => {
    expect(partnerOf(match, 1)).toEqual({ id: 2, username: null, displayName: null });
    expect(partnerOf(match, 2)).toEqual({ id: 1, username: 'a' });
    expect(partnerOf(null, 1)).toBeNull();
  });
});

describe('newClientId', () => {
  it('is 1-64 printable characters without spaces, and differs each time', () => {
    const a = newClientId();
    expect(a).toMatch(/^[\x21-\x7e]{1,64}$/);
    expect(newClientId()).not.toBe(a);
  });
});
