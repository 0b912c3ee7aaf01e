// MatchesPage.jsx: my match requests and matches. Incoming requests appear
// live and are accepted or rejected here; statuses follow live updates.
import { useEffect, useId, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { Avatar, Empty, ErrorAlert, Loading, PageTitle, StatusBadge, UserLink } from '../components/ui.jsx';
import { useApi, useSession, useSocketEvent } from '../context.jsx';
import { useEventInfo } from '../data.js';
import { query } from '../lib/api.js';
import { displayName, partnerOf, STATUS_LABELS } from '../lib/format.js';
import { upsertMatch } from '../lib/live.js';

export const FILTERS = ['', 'pending', 'accepted', 'completed', 'rejected', 'cancelled'];

export function EventName({ eventId }) {
  const ev = useEventInfo(eventId);
  if (ev === undefined) return <span>…</span>;
  if (ev === null) return <span>Event #{eventId}</span>;
  return (
    <Link to={`/events/${eventId}`} className="link">
      {ev.name}
    </Link>
  );
}

// PATCH a match's status; shared by the list and the match page.
export async function setMatchStatus(api, id, status) {
  const res = await api.patch(`/api/matches/${id}`, { status });
  return res.match;
}

export function MatchItem({ match, me, onChange }) {
  const api = useApi();
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const partner = partnerOf(match, me.id);
  const incoming = match.targetId === me.id;
  const name = displayName(partner);

  async function move(status) {
    setBusy(status);
    setError(null);
    try {
      onChange(await setMatchStatus(api, match.id, status));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  }

  return (
    <li className="card space-y-2" aria-label={`Match with ${name}`}>
      <div className="flex items-center gap-3">
        <Avatar user={partner} />
        <div className="min-w-0 flex-1">
          <p className="truncate font-medium">
            <UserLink user={partner} />
          </p>
          <p className="truncate text-xs text-gray-600">
            <EventName eventId={match.eventId} />
          </p>
        </div>
        <StatusBadge status={match.status} />
      </div>
      <p className="text-sm text-gray-700">
        {match.status === 'pending'
          ? incoming
            ? `${name} asks: film each other?`
            : `You asked ${name}; waiting for an answer.`
          : match.status === 'accepted'
            ? 'You film each other. Chat and send the video.'
            : match.status === 'completed'
              ? 'Done. Thank you for filming each other.'
              : match.status === 'rejected'
                ? incoming
                  ? 'You declined.'
                  : `${name} declined.`
                : 'Cancelled.'}
      </p>
      <ErrorAlert error={error} />
      <div className="flex flex-wrap gap-2">
        {match.status === 'pending' && incoming && (
          <>
            <button type="button" className="btn-primary btn-sm" onClick={() => move('accepted')} disabled={!!busy}>
              {busy === 'accepted' ? 'Accepting…' : 'Accept'}
            </button>
            <button type="button" className="btn-secondary btn-sm" onClick={() => move('rejected')} disabled={!!busy}>
              {busy === 'rejected' ? 'Rejecting…' : 'Reject'}
            </button>
          </>
        )}
        {match.status === 'pending' && !incoming && (
          <button type="button" className="btn-secondary btn-sm" onClick={() => move('cancelled')} disabled={!!busy}>
            {busy === 'cancelled' ? 'Cancelling…' : 'Cancel request'}
          </button>
        )}
        {(match.status === 'accepted' || match.status === 'completed') && (
          <Link to={`/matches/${match.id}`} className="btn-primary btn-sm">
            {match.status === 'accepted' ? 'Open chat' : 'Open'}
          </Link>
        )}
      </div>
    </li>
  );
}

export function MatchesPage() {
  const api = useApi();
  const { user: me } = useSession();
  const [params, setParams] = useSearchParams();
  const status = FILTERS.includes(params.get('status') || '') ? params.get('status') || '' : '';
  const [st, setSt] = useState({ items: [], cursor: null, loading: true, error: null });
  const [more, setMore] = useState(false);
  const selectId = useId();

  useEffect(() => {
    let live = true;
    setSt({ items: [], cursor: null, loading: true, error: null });
    api.get(`/api/matches${query({ status, limit: 20 })}`).then(
      (page) => live && setSt({ items: page.items || [], cursor: page.nextCursor, loading: false, error: null }),
      (error) => live && setSt({ items: [], cursor: null, loading: false, error }),
    );
    return () => {
      live = false;
    };
  }, [api, status]);

  async function loadMore() {
    setMore(true);
    try {
      const page = await api.get(`/api/matches${query({ status, limit: 20, cursor: st.cursor })}`);
      setSt((s) => ({ ...s, items: [...s.items, ...page.items], cursor: page.nextCursor }));
    } catch (error) {
      setSt((s) => ({ ...s, error }));
    } finally {
      setMore(false);
    }
  }

  // A match already shown stays (with its new status) until the next load;
  // a new one is added when it fits the filter.
  const update = (m) => setSt((s) => ({ ...s, items: upsertMatch(s.items, m, !status || m.status === status) }));

  useSocketEvent('match_request_received', ({ matchId } = {}) => {
    if (!matchId) return;
    api.get(`/api/matches/${matchId}`).then((r) => r.match && update(r.match), () => {});
  });
  useSocketEvent('match_updated', ({ match } = {}) => {
    if (!match) return;
    if (st.items.some((x) => x.id === match.id)) update(match);
    else api.get(`/api/matches/${match.id}`).then((r) => r.match && update(r.match), () => {});
  });

  const incoming = st.items.filter((m) => m.status === 'pending' && m.targetId === me.id);
  const rest = st.items.filter((m) => !(m.status === 'pending' && m.targetId === me.id));

  return (
    <div className="space-y-4">
      <PageTitle>Matches</PageTitle>
      <div className="flex items-center gap-2">
        <label htmlFor={selectId} className="text-sm font-medium text-gray-700">
          Show
        </label>
        <select id={selectId} className="input w-auto" value={status} onChange={(e) => setParams(e.target.value ? { status: e.target.value } : {})}>
          {FILTERS.map((f) => (
            <option key={f} value={f}>
              {f ? STATUS_LABELS[f] : 'All'}
            </option>
          ))}
        </select>
      </div>
      <ErrorAlert error={st.error} />
      {st.loading ? (
        <Loading label="Loading matches…" />
      ) : (
        <>
          {incoming.length > 0 && (
            <section aria-labelledby="incoming-h" className="space-y-2">
              <h2 id="incoming-h" className="h2">
                Requests for you
              </h2>
              <ul className="space-y-3">
                {incoming.map((m) => (
                  <MatchItem key={m.id} match={m} me={me} onChange={update} />
                ))}
              </ul>
            </section>
          )}
          <section aria-labelledby="matches-h" className="space-y-2">
            <h2 id="matches-h" className={incoming.length ? 'h2' : 'sr-only'}>
              {status ? STATUS_LABELS[status] : 'All matches'}
            </h2>
            {rest.length === 0 && incoming.length === 0 ? (
              <Empty>
                {status ? `No ${STATUS_LABELS[status].toLowerCase()} matches.` : 'No matches yet. Open an event you are at and ask a dancer: film each other?'}
              </Empty>
            ) : rest.length === 0 ? null : (
              <ul className="space-y-3">
                {rest.map((m) => (
                  <MatchItem key={m.id} match={m} me={me} onChange={update} />
                ))}
              </ul>
            )}
          </section>
          {st.cursor && (
            <button type="button" className="btn-secondary w-full" onClick={loadMore} disabled={more}>
              {more ? 'Loading…' : 'Load more'}
            </button>
          )}
        </>
      )}
    </div>
  );
}
