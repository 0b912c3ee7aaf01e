// HistoryPage.jsx: my matches with their partners, the ratings I gave and
// the ones I received, and my rating stats.
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { Avatar, Empty, ErrorAlert, Loading, PageTitle, StatsLine, StatusBadge, UserLink } from '../components/ui.jsx';
import { useApi, useSession } from '../context.jsx';
import { useStats } from '../data.js';
import { query } from '../lib/api.js';
import { displayName, formatMessageTime, partnerOf } from '../lib/format.js';
import { EventName } from './MatchesPage.jsx';

// A list a page at a time: {items, cursor, loading, error, more()}.
function usePaged(path, params) {
  const api = useApi();
  const key = path + query(params);
  const [st, setSt] = useState({ items: [], cursor: null, loading: true, error: null });
  useEffect(() => {
    let live = true;
    setSt({ items: [], cursor: null, loading: true, error: null });
    api.get(key).then(
      (p) => live && setSt({ items: p.items || [], cursor: p.nextCursor, loading: false, error: null }),
      (error) => live && setSt({ items: [], cursor: null, loading: false, error }),
    );
    return () => {
      live = false;
    };
  }, [api, key]);
  async function more() {
    try {
      const p = await api.get(path + query({ ...params, cursor: st.cursor }));
      setSt((s) => ({ ...s, items: [...s.items, ...p.items], cursor: p.nextCursor }));
    } catch (error) {
      setSt((s) => ({ ...s, error }));
    }
  }
  return { ...st, more };
}

export function RatingItem({ rating, who }) {
  const person = who === 'rater' ? rating.rater : rating.rated;
  const p = person || { id: who === 'rater' ? rating.raterId : rating.ratedId };
  return (
    <li className="flex gap-3 border-b border-gray-100 py-3 last:border-0">
      <Avatar user={p} size={36} />
      <div className="min-w-0 flex-1 text-sm">
        <p>
          <span className="font-semibold text-amber-700" aria-label={`${rating.score} out of 5`}>
            {'★'.repeat(rating.score)}
            <span className="text-gray-300">{'★'.repeat(5 - rating.score)}</span>
          </span>{' '}
          {who === 'rater' ? 'from ' : 'for '}
          <UserLink user={p} />
        </p>
        {rating.comment && <p className="mt-1 whitespace-pre-line text-gray-800">“{rating.comment}”</p>}
        <p className="mt-1 text-xs text-gray-500">
          {rating.wouldCollaborateAgain ? 'Would film together again' : 'Would not film together again'} · {formatMessageTime(rating.createdAt)}
        </p>
      </div>
    </li>
  );
}

function Section({ title, list, empty, children }) {
  return (
    <section aria-label={title} className="card p-3">
      <h2 className="h2">{title}</h2>
      <ErrorAlert error={list.error} className="mt-2" />
      {list.loading ? <Loading /> : list.items.length === 0 && !list.error ? <Empty className="mt-2">{empty}</Empty> : children}
      {list.cursor && (
        <button type="button" className="btn-secondary mt-2 w-full" onClick={list.more}>
          Load more
        </button>
      )}
    </section>
  );
}

export function HistoryPage() {
  const { user: me } = useSession();
  const stats = useStats(me.id, { fresh: true });
  const matches = usePaged('/api/matches', { limit: 20 });
  const received = usePaged(`/api/ratings/user/${me.id}`, { direction: 'received', limit: 20 });
  const given = usePaged(`/api/ratings/user/${me.id}`, { direction: 'given', limit: 20 });
  const past = matches.items.filter((m) => m.status !== 'pending');

  return (
    <div className="space-y-4">
      <PageTitle>History</PageTitle>
      <p className="text-sm text-gray-700">
        Your rating: <StatsLine stats={stats} className="font-medium" />
      </p>
      <Section title="Matches" list={{ ...matches, items: past }} empty="No matches yet.">
        <ul>
          {past.map((m) => {
            const partner = partnerOf(m, me.id);
            return (
              <li key={m.id} className="flex items-center gap-3 border-b border-gray-100 py-3 last:border-0">
                <Avatar user={partner} size={36} />
                <div className="min-w-0 flex-1 text-sm">
                  <p className="truncate">
                    <Link to={`/matches/${m.id}`} className="link">
                      {displayName(partner)}
                    </Link>
                  </p>
                  <p className="truncate text-xs text-gray-600">
                    <EventName eventId={m.eventId} />
                  </p>
                </div>
                <StatusBadge status={m.status} />
              </li>
            );
          })}
        </ul>
      </Section>
      <Section title="Ratings received" list={received} empty="Nobody has rated you yet.">
        <ul>
          {received.items.map((r) => (
            <RatingItem key={r.id} rating={r} who="rater" />
          ))}
        </ul>
      </Section>
      <Section title="Ratings given" list={given} empty="You have not rated anyone yet.">
        <ul>
          {given.items.map((r) => (
            <RatingItem key={r.id} rating={r} who="rated" />
          ))}
        </ul>
      </Section>
    </div>
  );
}
