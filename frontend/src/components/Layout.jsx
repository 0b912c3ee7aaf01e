// Layout.jsx: the frame around every screen: the header with the main
// navigation, the offline banner, the live-connection state and live
// notices (a new match request, an accepted one).
import { useEffect, useState } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router-dom';
import { useOnline, useSession, useSessionObject, useSocketEvent, useSocketStatus } from '../context.jsx';
import { displayName } from '../lib/format.js';
import { ErrorBoundary } from './ErrorBoundary.jsx';

function OfflineBanner() {
  const online = useOnline();
  if (online) return null;
  return (
    <div role="status" className="bg-amber-500 px-4 py-2 text-center text-sm font-semibold text-gray-900">
      You are offline. What you see may be out of date; nothing can be sent until you are back online.
    </div>
  );
}

function ConnectionBar() {
  const status = useSocketStatus();
  const online = useOnline();
  if (!online || status !== 'reconnecting') return null;
  return (
    <div role="status" className="bg-gray-800 px-4 py-1 text-center text-xs text-gray-100">
      Reconnecting to live updates…
    </div>
  );
}

// A notice goes when its screen is opened, when dismissed, or after a
// while.
const NOTICE_MS = 30_000;

function LiveNotices() {
  const [notes, setNotes] = useState([]);
  const { pathname } = useLocation();
  const add = (n) => {
    if (n.to === pathname) return; // already on that screen, which shows it
    setNotes((l) => [...l.filter((x) => x.key !== n.key), n].slice(-3));
    setTimeout(() => setNotes((l) => l.filter((x) => x !== n)), NOTICE_MS);
  };
  useEffect(() => {
    setNotes((l) => (l.some((x) => x.to === pathname) ? l.filter((x) => x.to !== pathname) : l));
  }, [pathname]);
  useSocketEvent('match_request_received', ({ matchId, fromUser } = {}) => {
    if (!matchId) return;
    add({ key: `req-${matchId}`, text: `${displayName(fromUser)} asks: film each other?`, to: '/matches', action: 'See request' });
  });
  useSocketEvent('match_accepted', ({ matchId, partner } = {}) => {
    if (!matchId) return;
    add({ key: `acc-${matchId}`, text: `${displayName(partner)} accepted your request.`, to: `/matches/${matchId}`, action: 'Open chat' });
  });
  if (notes.length === 0) return null;
  return (
    <div aria-live="polite" className="mx-auto flex max-w-3xl flex-col gap-2 px-4 pt-3">
      {notes.map((n) => (
        <div key={n.key} role="status" className="flex items-center justify-between gap-3 rounded-lg bg-indigo-600 px-3 py-2 text-sm text-white shadow">
          <span>{n.text}</span>
          <span className="flex shrink-0 items-center gap-2">
            <Link to={n.to} className="font-semibold underline" onClick={() => setNotes((l) => l.filter((x) => x !== n))}>
              {n.action}
            </Link>
            <button type="button" aria-label="Dismiss" className="rounded px-1 text-lg leading-none" onClick={() => setNotes((l) => l.filter((x) => x !== n))}>
              ×
            </button>
          </span>
        </div>
      ))}
    </div>
  );
}

const navClass = ({ isActive }) =>
  `rounded-md px-2 py-2 text-center text-sm font-medium ${isActive ? 'bg-white/15 text-white' : 'text-gray-300 hover:text-white'}`;

export function AppLayout() {
  const { user } = useSession();
  const session = useSessionObject();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  async function logout() {
    await session.logout();
    navigate('/login', { replace: true });
  }
  return (
    <div className="flex min-h-screen flex-col">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2">
        Skip to content
      </a>
      <header className="sticky top-0 z-20 bg-gray-900 text-white shadow">
        <div className="mx-auto flex max-w-3xl items-center justify-between gap-2 px-4 pt-2">
          <Link to="/events" className="flex items-center gap-2 text-lg font-bold tracking-tight">
            <img src="/icons/icon.svg" alt="" width="28" height="28" />
            spotlight.cam
          </Link>
          <div className="flex items-center gap-2">
            {user && <span className="hidden text-sm text-gray-300 sm:inline">{displayName(user)}</span>}
            <button type="button" onClick={logout} className="rounded-md border border-white/30 px-3 py-1.5 text-sm font-medium hover:bg-white/10">
              Log out
            </button>
          </div>
        </div>
        <nav aria-label="Main" className="mx-auto grid max-w-3xl grid-cols-4 gap-1 px-2 py-2">
          <NavLink to="/events" className={navClass}>
            Events
          </NavLink>
          <NavLink to="/matches" className={navClass}>
            Matches
          </NavLink>
          <NavLink to="/history" className={navClass}>
            History
          </NavLink>
          <NavLink to="/profile" className={navClass}>
            Profile
          </NavLink>
        </nav>
        <OfflineBanner />
        <ConnectionBar />
      </header>
      <LiveNotices />
      <main id="main" className="mx-auto w-full max-w-3xl flex-1 px-4 pb-16 pt-4">
        <ErrorBoundary key={pathname}>
          <Outlet />
        </ErrorBoundary>
      </main>
    </div>
  );
}

// The frame of the screens used logged out (login, register...).
export function PublicLayout() {
  return (
    <div className="flex min-h-screen flex-col">
      <OfflineBanner />
      <main id="main" className="mx-auto w-full max-w-md flex-1 px-4 py-8">
        <Link to="/login" className="mb-6 flex items-center justify-center gap-2 text-xl font-bold tracking-tight">
          <img src="/icons/icon.svg" alt="" width="36" height="36" />
          spotlight.cam
        </Link>
        <Outlet />
      </main>
    </div>
  );
}
