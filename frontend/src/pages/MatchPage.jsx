// MatchPage.jsx: one match: the partner, its status and the moves open to
// me; once accepted the private chat (live + history, links as messages),
// the video transfer and "Mark completed"; the way to rate the partner.
// Anyone but the two members sees "not found" and nothing else.
import { lazy, Suspense, useRef, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { ChatPanel, useChat } from '../components/Chat.jsx';
import { ErrorBoundary } from '../components/ErrorBoundary.jsx';
import { Avatar, ErrorAlert, Loading, PageTitle, StatusBadge } from '../components/ui.jsx';
import { useApi, useLoad, useRoom, useSession, useSocketEvent, useSockets } from '../context.jsx';
import { displayName, partnerOf } from '../lib/format.js';
import { EventName, setMatchStatus } from './MatchesPage.jsx';

const TransferPanel = lazy(() => import('../transfer/TransferPanel.jsx'));

export function MatchNotFound() {
  return (
    <div className="space-y-4">
      <PageTitle>Match not found</PageTitle>
      <p className="text-gray-700">This match does not exist, or it is not yours.</p>
      <Link to="/matches" className="btn-secondary">
        Back to my matches
      </Link>
    </div>
  );
}

export function MatchPage() {
  const { id } = useParams();
  const api = useApi();
  const sockets = useSockets();
  const { user: me } = useSession();
  const m = useLoad(() => api.get(`/api/matches/${id}`).then((r) => r.match), [api, id]);
  const match = m.data;
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const chatRef = useRef(null);

  const open = !!match && (match.status === 'accepted' || match.status === 'completed');
  const room = useRoom('match', id, open);
  const chat = useChat('match', id, { enabled: open, roomState: room.state });

  useSocketEvent('match_updated', ({ match: short } = {}) => {
    if (short && Number(short.id) === Number(id)) m.setData((x) => (x ? { ...x, ...short } : x));
  });

  async function move(status) {
    setBusy(status);
    setError(null);
    try {
      const next = await setMatchStatus(api, id, status);
      m.setData((x) => ({ ...x, ...next }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  }

  if (m.loading && !match) return <Loading label="Loading the match…" />;
  if (m.error && (m.error.status === 404 || m.error.status === 403)) return <MatchNotFound />;
  if (m.error) {
    return (
      <div className="space-y-4">
        <PageTitle>Match</PageTitle>
        <ErrorAlert error={m.error} />
        <button type="button" className="btn-secondary" onClick={m.reload}>
          Try again
        </button>
      </div>
    );
  }

  const partner = partnerOf(match, me.id);
  const name = displayName(partner);
  const incoming = match.targetId === me.id;

  return (
    <div className="space-y-4">
      <Link to="/matches" className="link text-sm">
        ← My matches
      </Link>
      <div className="card space-y-3">
        <div className="flex items-center gap-3">
          <Avatar user={partner} size={48} />
          <div className="min-w-0 flex-1">
            <PageTitle title={`Match with ${name}`} className="truncate text-xl">
              {name}
            </PageTitle>
            <p className="truncate text-sm text-gray-600">
              {partner.username && (
                <>
                  <Link to={`/users/${encodeURIComponent(partner.username)}`} className="link">
                    Profile
                  </Link>
                  {' · '}
                </>
              )}
              <EventName eventId={match.eventId} />
            </p>
          </div>
          <StatusBadge status={match.status} />
        </div>
        <ErrorAlert error={error} />
        <div className="flex flex-wrap gap-2">
          {match.status === 'pending' && incoming && (
            <>
              <button type="button" className="btn-primary" onClick={() => move('accepted')} disabled={!!busy}>
                Accept
              </button>
              <button type="button" className="btn-secondary" onClick={() => move('rejected')} disabled={!!busy}>
                Reject
              </button>
            </>
          )}
          {match.status === 'pending' && !incoming && <p className="text-sm text-gray-700">Waiting for {name} to answer your request.</p>}
          {match.status === 'accepted' && (
            <button type="button" className="btn-primary" onClick={() => move('completed')} disabled={!!busy}>
              {busy === 'completed' ? 'Saving…' : 'Mark completed'}
            </button>
          )}
          {(match.status === 'accepted' || match.status === 'completed') && (
            <Link to={`/matches/${match.id}/rate`} className="btn-secondary">
              Rate {name}
            </Link>
          )}
          {((match.status === 'pending' && !incoming) || match.status === 'accepted') && (
            <button type="button" className="btn-danger" onClick={() => move('cancelled')} disabled={!!busy}>
              {match.status === 'pending' ? 'Cancel request' : 'Cancel match'}
            </button>
          )}
        </div>
        {match.status === 'rejected' && <p className="text-sm text-gray-700">{incoming ? 'You declined this request.' : `${name} declined this request.`}</p>}
        {match.status === 'cancelled' && <p className="text-sm text-gray-700">This match was cancelled.</p>}
        {match.status === 'completed' && <p className="text-sm text-gray-700">Completed. You can still chat and rate {name}.</p>}
      </div>

      {open && room.state === 'error' && <ErrorAlert error={room.error} />}

      {match.status === 'accepted' && (
        <section aria-label="Video transfer" className="card p-3">
          <h2 className="h2 mb-2">Send the video</h2>
          <ErrorBoundary what="The video transfer">
          <Suspense fallback={<Loading label="Loading the video transfer…" />}>
            <TransferPanel
              matchId={Number(match.id)}
              socket={sockets.socket}
              me={{ id: me.id, username: me.username }}
              partner={{ id: partner.id, username: partner.username, displayName: partner.displayName }}
              api={api}
              onFallbackLink={() => chatRef.current?.focusWithHint('Paste a link to the video (a cloud drive share, for example) and send it.')}
            />
          </Suspense>
          </ErrorBoundary>
        </section>
      )}

      {open && <ChatPanel ref={chatRef} chat={chat} me={me} title={`Chat with ${name}`} connecting={room.state !== 'joined'} placeholder="Write a message or paste a link" />}
    </div>
  );
}
