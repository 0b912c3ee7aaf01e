// EventPage.jsx: one event: details, join/leave, who is online, the live
// event chat with history, the participants with their rating stats and a
// "Film each other?" request.
import { useEffect, useMemo, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { ChatPanel, useChat } from '../components/Chat.jsx';
import { Avatar, Empty, ErrorAlert, Loading, PageTitle, StatsLine, StatusBadge, UserLink } from '../components/ui.jsx';
import { useApi, useLoad, useRoom, useSession, useSocketEvent } from '../context.jsx';
import { eventCache, useStats } from '../data.js';
import { query } from '../lib/api.js';
import { displayName, formatDateRange, partnerOf } from '../lib/format.js';
import { applyPresence, upsertMatch as upsert } from '../lib/live.js';

function OnlineNow({ users, me }) {
  return (
    <section aria-label="Online now" className="card p-3">
      <h2 className="mb-2 flex items-center gap-2 text-sm font-semibold text-gray-800">
        <span aria-hidden="true" className="h-2 w-2 rounded-full bg-emerald-500" />
        Online now ({users.length})
      </h2>
      {users.length === 0 ? (
        <p className="muted">Nobody is online in this event right now.</p>
      ) : (
        <ul className="flex flex-wrap gap-2">
          {users.map((u) => (
            <li key={u.id} className="flex items-center gap-1 rounded-full bg-gray-100 py-1 pl-1 pr-3 text-sm">
              <Avatar user={u} size={24} />
              {u.id === me.id ? 'You' : displayName(u)}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function ParticipantRow({ item, me, joined, eventId, match, onRequested }) {
  const api = useApi();
  const user = item.user;
  const stats = useStats(user && user.id);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  if (!user) return null;
  const self = user.id === me.id;

  async function request() {
    setBusy(true);
    setError(null);
    try {
      const res = await api.post('/api/matches', { targetUserId: user.id, eventId: Number(eventId) });
      onRequested(res.match);
    } catch (err) {
      if (err.code === 'match_exists' && err.details && err.details.matchId) {
        try {
          const res = await api.get(`/api/matches/${err.details.matchId}`);
          onRequested(res.match);
        } catch {
          setError(err);
        }
      } else {
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <li className="flex flex-col gap-2 border-b border-gray-100 py-3 last:border-0" aria-label={displayName(user)}>
      <div className="flex items-center gap-3">
        <Avatar user={user} />
        <div className="min-w-0 flex-1">
          <p className="truncate font-medium">
            <UserLink user={user} />
            {self && <span className="ml-1 text-sm text-gray-500">(you)</span>}
          </p>
          <StatsLine stats={stats} />
        </div>
        {!self && joined && (
          <div className="shrink-0">
            {match ? (
              <Link to={`/matches/${match.id}`} className="flex items-center gap-1 text-sm">
                <StatusBadge status={match.status} />
                <span className="link">{match.status === 'accepted' ? 'Chat' : 'View'}</span>
              </Link>
            ) : (
              <button type="button" className="btn-primary btn-sm" onClick={request} disabled={busy}>
                {busy ? 'Sending…' : 'Film each other?'}
                <span className="sr-only"> with {displayName(user)}</span>
              </button>
            )}
          </div>
        )}
      </div>
      <ErrorAlert error={error} />
    </li>
  );
}

export function EventPage() {
  const { id } = useParams();
  const api = useApi();
  const { user: me } = useSession();
  const ev = useLoad(() => api.get(`/api/events/${id}`), [api, id]);
  const event = ev.data;
  const joined = !!(event && event.joined);
  const [joinBusy, setJoinBusy] = useState(false);
  const [joinError, setJoinError] = useState(null);

  // Participants, a page at a time.
  const [parts, setParts] = useState({ items: [], cursor: null, loading: true, error: null });
  async function loadParticipants(cursor) {
    try {
      const page = await api.get(`/api/events/${id}/participants${query({ limit: 50, cursor })}`);
      setParts((p) => ({ items: cursor ? [...p.items, ...page.items] : page.items, cursor: page.nextCursor, loading: false, error: null }));
    } catch (error) {
      setParts((p) => ({ ...p, loading: false, error }));
    }
  }
  useEffect(() => {
    setParts({ items: [], cursor: null, loading: true, error: null });
    loadParticipants(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, joined]);

  // My matches at this event, by partner.
  const [matches, setMatches] = useState([]);
  useEffect(() => {
    let live = true;
    api.get(`/api/matches${query({ eventId: id, limit: 100 })}`).then(
      (page) => live && setMatches(page.items || []),
      () => {},
    );
    return () => {
      live = false;
    };
  }, [api, id]);
  const byPartner = useMemo(() => {
    const m = new Map();
    for (const x of matches) {
      if (x.status === 'cancelled') continue;
      const p = partnerOf(x, me.id);
      if (p && !m.has(p.id)) m.set(p.id, x);
    }
    return m;
  }, [matches, me.id]);
  const upsertMatch = (m) => setMatches((l) => upsert(l, m));
  useSocketEvent('match_updated', ({ match } = {}) => {
    if (match && Number(match.eventId) === Number(id)) {
      setMatches((l) => upsert(l, match, false));
    }
  });
  useSocketEvent('match_request_received', ({ matchId } = {}) => {
    if (!matchId) return;
    api.get(`/api/matches/${matchId}`).then((r) => r.match && Number(r.match.eventId) === Number(id) && upsertMatch(r.match), () => {});
  });

  // The live room and who is in it.
  const room = useRoom('event', id, joined);
  const [online, setOnline] = useState([]);
  useEffect(() => {
    // Out of the room (not joined, or the connection dropped): nobody is
    // known to be online until the room is joined again.
    if (!joined || room.state !== 'joined') setOnline([]);
  }, [room.state, joined]);
  const mine = (p) => p && Number(p.eventId) === Number(id);
  useSocketEvent('active_users', (p) => mine(p) && setOnline((l) => applyPresence(l, { type: 'active', users: p.users })));
  useSocketEvent('user_joined', (p) => {
    if (!mine(p)) return;
    setOnline((l) => applyPresence(l, { type: 'joined', user: p.user }));
    // Someone new at the event: show them among the participants too.
    if (p.user && !parts.loading && !parts.cursor && !parts.items.some((it) => it.user && it.user.id === p.user.id)) {
      loadParticipants(null);
    }
  });
  useSocketEvent('user_left', (p) => mine(p) && setOnline((l) => applyPresence(l, { type: 'left', userId: p.userId })));

  const chat = useChat('event', id, { enabled: joined, roomState: room.state });

  async function toggleJoin() {
    setJoinBusy(true);
    setJoinError(null);
    try {
      const res = joined ? await api.del(`/api/events/${id}/join`) : await api.post(`/api/events/${id}/join`);
      ev.setData(res.event);
      eventCache.set(Number(id), res.event);
    } catch (err) {
      setJoinError(err);
    } finally {
      setJoinBusy(false);
    }
  }

  if (ev.loading && !event) return <Loading label="Loading the event…" />;
  if (ev.error && ev.error.status === 404) {
    return (
      <div className="space-y-4">
        <PageTitle>Event not found</PageTitle>
        <p className="muted">There is no event with this address.</p>
        <Link to="/events" className="link">
          Back to events
        </Link>
      </div>
    );
  }
  if (ev.error) {
    return (
      <div className="space-y-4">
        <PageTitle>Event</PageTitle>
        <ErrorAlert error={ev.error} />
        <button type="button" className="btn-secondary" onClick={ev.reload}>
          Try again
        </button>
      </div>
    );
  }

  return (
    <div className="space-y-4">
      <Link to="/events" className="link text-sm">
        ← All events
      </Link>
      <div className="card space-y-2">
        <PageTitle title={event.name}>{event.name}</PageTitle>
        <p className="text-sm font-medium text-gray-800">{formatDateRange(event.startDate, event.endDate)}</p>
        <p className="text-sm text-gray-600">{event.location}</p>
        {event.description && <p className="whitespace-pre-line text-sm text-gray-700">{event.description}</p>}
        <p className="text-xs text-gray-500">
          {event.participantCount} {event.participantCount === 1 ? 'dancer' : 'dancers'} joined
        </p>
        <ErrorAlert error={joinError} />
        <button type="button" className={joined ? 'btn-secondary w-full' : 'btn-primary w-full'} onClick={toggleJoin} disabled={joinBusy}>
          {joinBusy ? 'Saving…' : joined ? 'Leave event' : "I'm at this event"}
        </button>
        {joined && <p className="text-center text-sm text-emerald-800">You joined this event.</p>}
      </div>

      {joined ? (
        <>
          {room.state === 'error' && <ErrorAlert error={room.error} />}
          <OnlineNow users={online} me={me} />
          <ChatPanel chat={chat} me={me} title="Event chat" connecting={room.state !== 'joined'} placeholder="Message everyone at this event" />
        </>
      ) : (
        <p className="card text-sm text-gray-700">Join the event to chat with the dancers who are there and to ask one to film each other.</p>
      )}

      <section aria-labelledby="participants-h" className="card p-3">
        <h2 id="participants-h" className="h2">
          Participants
        </h2>
        <ErrorAlert error={parts.error} className="mt-2" />
        {parts.loading ? (
          <Loading label="Loading participants…" />
        ) : parts.items.length === 0 ? (
          <Empty className="mt-2">Nobody has joined yet. Be the first!</Empty>
        ) : (
          <ul aria-label="Participants">
            {parts.items.map((it) => (
              <ParticipantRow key={it.user ? it.user.id : it.joinedAt} item={it} me={me} joined={joined} eventId={id} match={it.user && byPartner.get(it.user.id)} onRequested={upsertMatch} />
            ))}
          </ul>
        )}
        {parts.cursor && (
          <button type="button" className="btn-secondary mt-2 w-full" onClick={() => loadParticipants(parts.cursor)}>
            Load more
          </button>
        )}
      </section>
    </div>
  );
}
