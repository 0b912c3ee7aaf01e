// App.jsx: the routes. Private screens send a logged-out visitor to /login
// and bring them back after it.
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { AppLayout, PublicLayout } from './components/Layout.jsx';
import { Loading, PageTitle } from './components/ui.jsx';
import { SessionProvider, useOnline, useSession, useSessionObject } from './context.jsx';
import { ForgotPasswordPage, LoginPage, RegisterPage, ResetPasswordPage, VerifyEmailPage } from './pages/AuthPages.jsx';
import { EventPage } from './pages/EventPage.jsx';
import { EventsPage } from './pages/EventsPage.jsx';
import { HistoryPage } from './pages/HistoryPage.jsx';
import { MatchesPage } from './pages/MatchesPage.jsx';
import { MatchPage } from './pages/MatchPage.jsx';
import { ProfilePage, UserPage } from './pages/ProfilePages.jsx';
import { RatePage } from './pages/RatePage.jsx';

function RequireAuth({ children }) {
  const { status, unreachable } = useSession();
  const location = useLocation();
  if (status === 'loading') {
    return (
      <div className="mx-auto max-w-md px-4 py-16">
        <Loading label="Opening spotlight.cam…" />
      </div>
    );
  }
  if (status !== 'authed' && unreachable) return <Unreachable />;
  if (status !== 'authed') return <Navigate to="/login" replace state={{ from: location }} />;
  return children;
}

// Opened offline: the session could not be restored (nor ruled out).
function Unreachable() {
  const session = useSessionObject();
  const online = useOnline();
  return (
    <div className="mx-auto max-w-md space-y-4 px-4 py-16 text-center">
      <img src="/icons/icon.svg" alt="" width="56" height="56" className="mx-auto" />
      <PageTitle>{online ? 'Cannot reach spotlight.cam' : 'You are offline'}</PageTitle>
      <p className="muted">spotlight.cam needs a connection to show your events, matches and chats. It will carry on by itself when you are back online.</p>
      <button type="button" className="btn-primary" onClick={() => session.retry()}>
        Try again
      </button>
    </div>
  );
}

function NotFoundPage() {
  return (
    <div className="space-y-4">
      <PageTitle>Page not found</PageTitle>
      <p className="muted">There is nothing at this address.</p>
      <Link to="/events" className="link">
        Go to events
      </Link>
    </div>
  );
}

function Home() {
  const { status } = useSession();
  if (status === 'loading') return <Loading label="Opening spotlight.cam…" />;
  return <Navigate to={status === 'authed' ? '/events' : '/login'} replace />;
}

export function App() {
  return (
    <SessionProvider>
      <BrowserRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <Routes>
          <Route path="/" element={<Home />} />
          <Route element={<PublicLayout />}>
            <Route path="/login" element={<LoginPage />} />
            <Route path="/register" element={<RegisterPage />} />
            <Route path="/verify-email" element={<VerifyEmailPage />} />
            <Route path="/forgot-password" element={<ForgotPasswordPage />} />
            <Route path="/reset-password" element={<ResetPasswordPage />} />
          </Route>
          <Route
            element={
              <RequireAuth>
                <AppLayout />
              </RequireAuth>
            }
          >
            <Route path="/events" element={<EventsPage />} />
            <Route path="/events/:id" element={<EventPage />} />
            <Route path="/matches" element={<MatchesPage />} />
            <Route path="/matches/:id" element={<MatchPage />} />
            <Route path="/matches/:id/rate" element={<RatePage />} />
            <Route path="/history" element={<HistoryPage />} />
            <Route path="/profile" element={<ProfilePage />} />
            <Route path="/users/:username" element={<UserPage />} />
            <Route path="*" element={<NotFoundPage />} />
          </Route>
        </Routes>
      </BrowserRouter>
    </SessionProvider>
  );
}
