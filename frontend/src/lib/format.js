// format.js: dates, names and message text for display. Pure: tested in
// node.

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
// Punctuation that ends a sentence rather than the link.
const TRAILING = /[.,;:!?)\]}'"]+$/;

// Whether s is one http(s) URL and nothing else (then it is sent as a
// message of type "link").
export function isHttpUrl(s) {
  if (typeof s !== 'string') return false;
  const t = s.trim();
  if (!/^https?:\/\/\S+$/i.test(t)) return false;
  try {
    const u = new URL(t);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !!u.hostname;
  } catch {
    return false;
  }
}

// Splits text into [{type:'text', text}, {type:'link', text, href}] parts;
// only http(s) links become links (never javascript: or data:).
export function linkify(text) {
  const parts = [];
  if (typeof text !== 'string' || !text) return parts;
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let href = m[0];
    const trail = href.match(TRAILING);
    if (trail) {
      // Keep a closing parenthesis that closes one opened in the link.
      let cut = trail[0];
      if (cut.startsWith(')') && (href.match(/\(/g) || []).length > (href.match(/\)/g) || []).length - 1) {
        cut = cut.slice(1);
      }
      href = href.slice(0, href.length - cut.length);
    }
    if (!isHttpUrl(href)) continue;
    if (m.index > last) parts.push({ type: 'text', text: text.slice(last, m.index) });
    parts.push({ type: 'link', text: href, href });
    last = m.index + href.length;
  }
  if (last < text.length) parts.push({ type: 'text', text: text.slice(last) });
  return parts;
}

// "Ana" or "@ana": the name to show for a profile (or a message).
export function displayName(p) {
  if (!p) return 'Unknown dancer';
  const d = typeof p.displayName === 'string' ? p.displayName.trim() : '';
  if (d) return d;
  return p.username ? `@${p.username}` : 'Unknown dancer';
}

// One or two letters for an avatar placeholder.
export function initials(p) {
  const name = (p && (p.displayName || p.username)) || '?';
  const words = name.replace(/^@/, '').split(/[\s._-]+/).filter(Boolean);
  const s = words.length > 1 ? words[0][0] + words[1][0] : (words[0] || '?').slice(0, 2);
  return s.toUpperCase();
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function parseDay(d) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d || '');
  return m ? { y: +m[1], m: +m[2] - 1, d: +m[3] } : null;
}

// An event's dates: "24–28 Nov 2027", "30 Nov – 2 Dec 2027",
// "30 Dec 2027 – 2 Jan 2028" (calendar days, no time zone involved).
export function formatDateRange(start, end) {
  const a = parseDay(start);
  const b = parseDay(end) || a;
  if (!a) return '';
  if (a.y === b.y && a.m === b.m && a.d === b.d) return `${a.d} ${MONTHS[a.m]} ${a.y}`;
  if (a.y === b.y && a.m === b.m) return `${a.d}–${b.d} ${MONTHS[a.m]} ${a.y}`;
  if (a.y === b.y) return `${a.d} ${MONTHS[a.m]} – ${b.d} ${MONTHS[b.m]} ${a.y}`;
  return `${a.d} ${MONTHS[a.m]} ${a.y} – ${b.d} ${MONTHS[b.m]} ${b.y}`;
}

// A message's time: "14:05" today, "Yesterday 14:05", "3 Nov 14:05",
// "3 Nov 2025 14:05" another year; in the viewer's time zone (tz for tests).
export function formatMessageTime(iso, now = new Date(), tz) {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '';
  const opts = tz ? { timeZone: tz } : {};
  const parts = (d) => {
    const f = new Intl.DateTimeFormat('en-GB', {
      ...opts, year: 'numeric', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
    }).formatToParts(d);
    const o = {};
    for (const p of f) o[p.type] = p.value;
    return { y: +o.year, m: +o.month - 1, d: +o.day, hm: `${o.hour}:${o.minute}` };
  };
  const a = parts(t);
  const n = parts(now);
  const y = parts(new Date(now.getTime() - 86_400_000));
  if (a.y === n.y && a.m === n.m && a.d === n.d) return a.hm;
  if (a.y === y.y && a.m === y.m && a.d === y.d) return `Yesterday ${a.hm}`;
  if (a.y === n.y) return `${a.d} ${MONTHS[a.m]} ${a.hm}`;
  return `${a.d} ${MONTHS[a.m]} ${a.y} ${a.hm}`;
}

// "4.33 ★ (3 ratings) · 67% would dance again" from a stats object.
export function formatStats(s) {
  if (!s || !s.count) return 'No ratings yet';
  const avg = typeof s.average === 'number' ? s.average.toFixed(1) : '–';
  const n = `${s.count} rating${s.count === 1 ? '' : 's'}`;
  const again = typeof s.wouldCollaborateAgainShare === 'number'
    ? ` · ${Math.round(s.wouldCollaborateAgainShare * 100)}% would film again`
    : '';
  return `${avg} ★ (${n})${again}`;
}

// The partner of a match seen by user `meId`.
export function partnerOf(match, meId) {
  if (!match) return null;
  const mine = match.requesterId === meId;
  const id = mine ? match.targetId : match.requesterId;
  const p = mine ? match.target : match.requester;
  return p ? { ...p, id } : { id, username: null, displayName: null };
}

export const STATUS_LABELS = {
  pending: 'Pending',
  accepted: 'Accepted',
  rejected: 'Rejected',
  cancelled: 'Cancelled',
  completed: 'Completed',
};

// A clientId for a chat message (idempotent retries).
export function newClientId(rand = Math.random) {
  return `c${Date.now().toString(36)}${Math.floor(rand() * 1e12).toString(36)}`.slice(0, 64);
}
