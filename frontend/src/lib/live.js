// live.js: folding live updates into what a screen shows: chat messages
// (history and live, each once, in order) and who is online in an event
// room (the full list on join, then deltas). Pure: tested in node.

export function mergeMessages(list, more) {
  const byId = new Map(list.map((m) => [m.id, m]));
  for (const m of more) if (m && m.id != null) byId.set(m.id, m);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

function dedupeUsers(users) {
  const m = new Map();
  for (const u of users) if (u && u.id != null) m.set(u.id, u);
  return [...m.values()];
}

// ev: {type:'active', users} | {type:'joined', user} | {type:'left', userId}
export function applyPresence(list, ev) {
  if (ev.type === 'active') return dedupeUsers(ev.users || []);
  if (ev.type === 'joined') return ev.user ? dedupeUsers([...list, ev.user]) : list;
  if (ev.type === 'left') return list.filter((u) => u.id !== ev.userId);
  return list;
}

// A match changed (a short match from `match_updated`, or a whole one):
// the list with it updated in place, or added at the top when `addIfNew`.
export function upsertMatch(list, match, addIfNew = true) {
  if (list.some((x) => x.id === match.id)) return list.map((x) => (x.id === match.id ? { ...x, ...match } : x));
  return addIfNew ? [match, ...list] : list;
}

// The PATCH body of a profile form: only what changed; an emptied field
// is null (cleared); a WSDC id of digits is a number.
export function profilePatch(before, form) {
  const out = {};
  for (const k of ['displayName', 'avatarUrl', 'wsdcId', 'bio']) {
    const a = String(before[k] ?? '').trim();
    const b = String(form[k] ?? '').trim();
    if (a === b) continue;
    if (!b) out[k] = null;
    else if (k === 'wsdcId') out[k] = /^\d+$/.test(b) ? Number(b) : b;
    else out[k] = b;
  }
  return out;
}
