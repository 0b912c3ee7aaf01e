// EventsPage.jsx: upcoming and past events, searched by name or location,
// a page at a time ("Load more").
import { useEffect, useId, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router-dom';
import { Empty, ErrorAlert, Loading, Notice, PageTitle } from '../components/ui.jsx';
import { useApi } from '../context.jsx';
import { query } from '../lib/api.js';
import { formatDateRange } from '../lib/format.js';

export function EventCard({ event }) {
  return (
    <li className="card">
      <div className="flex items-start justify-between gap-2">
        <h2 className="text-base font-semibold">
          <Link to={`/events/${event.id}`} className="link text-gray-900">
            {event.name}
          </Link>
        </h2>
        {event.joined && <span className="shrink-0 rounded-full bg-emerald-100 px-2 py-0.5 text-xs font-semibold text-emerald-900">Joined</span>}
      </div>
      <p className="mt-1 text-sm text-gray-700">{formatDateRange(event.startDate, event.endDate)}</p>
      <p className="text-sm text-gray-600">{event.location}</p>
      <p className="mt-1 text-xs text-gray-500">
        {event.participantCount} {event.participantCount === 1 ? 'dancer' : 'dancers'} joined
      </p>
    </li>
  );
}

export function EventsPage() {
  const api = useApi();
  const location = useLocation();
  const [params, setParams] = useSearchParams();
  const when = params.get('when') === 'past' ? 'past' : 'upcoming';
  const q = params.get('q') || '';
  const [text, setText] = useState(q);
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(true);
  const [more, setMore] = useState(false);
  const [error, setError] = useState(null);
  const searchId = useId();

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    api.get(`/api/events${query({ when, q, limit: 20 })}`).then(
      (page) => {
        if (!live) return;
        setItems(page.items || []);
        setCursor(page.nextCursor);
        setLoading(false);
      },
      (err) => {
        if (!live) return;
        setError(err);
        setItems([]);
        setCursor(null);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [api, when, q]);

  async function loadMore() {
    setMore(true);
    try {
      const page = await api.get(`/api/events${query({ when, q, limit: 20, cursor })}`);
      setItems((l) => [...l, ...(page.items || [])]);
      setCursor(page.nextCursor);
    } catch (err) {
      setError(err);
    } finally {
      setMore(false);
    }
  }

  function go(next) {
    const p = {};
    if (next.when === 'past') p.when = 'past';
    if (next.q) p.q = next.q;
    setParams(p);
  }

  return (
    <div className="space-y-4">
      <PageTitle>Events</PageTitle>
      {location.state && location.state.welcome && (
        <Notice>Welcome! We sent you an email to verify your address. Meanwhile, find your next event.</Notice>
      )}
      <div role="group" aria-label="Which events" className="grid grid-cols-2 gap-1 rounded-lg bg-gray-200 p-1">
        {['upcoming', 'past'].map((w) => (
          <button
            key={w}
            type="button"
            aria-pressed={when === w}
            onClick={() => go({ when: w, q })}
            className={`rounded-md py-2 text-sm font-semibold ${when === w ? 'bg-white text-gray-900 shadow' : 'text-gray-600'}`}
          >
            {w === 'upcoming' ? 'Upcoming' : 'Past'}
          </button>
        ))}
      </div>
      <form
        role="search"
        className="flex gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          go({ when, q: text.trim() });
        }}
      >
        <label htmlFor={searchId} className="sr-only">
          Search events
        </label>
        <input id={searchId} type="search" className="input" placeholder="Search by name or location" maxLength={100} value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit" className="btn-secondary">
          Search
        </button>
      </form>
      <ErrorAlert error={error} />
      {loading ? (
        <Loading label="Loading events…" />
      ) : items.length === 0 && !error ? (
        <Empty>{q ? `No ${when} events match “${q}”.` : `No ${when} events.`}</Empty>
      ) : (
        <ul aria-label={`${when === 'past' ? 'Past' : 'Upcoming'} events`} className="space-y-3">
          {items.map((e) => (
            <EventCard key={e.id} event={e} />
          ))}
        </ul>
      )}
      {cursor && !loading && (
        <button type="button" className="btn-secondary w-full" onClick={loadMore} disabled={more}>
          {more ? 'Loading…' : 'Load more'}
        </button>
      )}
    </div>
  );
}
