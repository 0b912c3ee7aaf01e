// AuthPages.jsx: log in, create an account, verify the email, forgot and
// reset password.
import { useEffect, useState } from 'react';
import { Link, Navigate, useLocation, useNavigate, useSearchParams } from 'react-router-dom';
import { ErrorAlert, Field, Loading, Notice, PageTitle } from '../components/ui.jsx';
import { useApi, useSession, useSessionObject } from '../context.jsx';

function whereTo(location) {
  const from = location.state && location.state.from;
  if (from && typeof from.pathname === 'string' && !/^\/(login|register)/.test(from.pathname)) {
    return `${from.pathname}${from.search || ''}`;
  }
  return '/events';
}

export function LoginPage() {
  const session = useSessionObject();
  const { status, notice } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  if (status === 'authed' && !busy) return <Navigate to={whereTo(location)} replace />;

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await session.login(login.trim(), password);
      navigate(whereTo(location), { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <div className="card">
      <PageTitle className="mb-4">Log in</PageTitle>
      {notice && !error && <Notice className="mb-4">{notice}</Notice>}
      <form onSubmit={submit} className="space-y-4" noValidate>
        <Field label="Username or email" name="login" autoComplete="username" autoCapitalize="none" required value={login} onChange={(e) => setLogin(e.target.value)} />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        <ErrorAlert error={error} />
        <button type="submit" className="btn-primary w-full" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <div className="mt-4 flex justify-between text-sm">
        <Link to="/forgot-password" className="link">
          Forgot password?
        </Link>
        <Link to="/register" className="link">
          Create an account
        </Link>
      </div>
    </div>
  );
}

export function RegisterPage() {
  const api = useApi();
  const session = useSessionObject();
  const { status } = useSession();
  const navigate = useNavigate();
  const [form, setForm] = useState({ username: '', email: '', password: '' });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  if (status === 'authed' && !busy) return <Navigate to="/events" replace />;

  const change = (k) => (e) => setForm((f) => ({ ...f, [k]: e.target.value }));

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = { username: form.username.trim(), email: form.email.trim(), password: form.password };
    try {
      await api.post('/api/auth/register', body, { auth: false });
    } catch (err) {
      setError(err);
      setBusy(false);
      return;
    }
    try {
      await session.login(body.username, body.password);
      navigate('/events', { replace: true, state: { welcome: true } });
    } catch {
      navigate('/login', { replace: true });
    }
  }

  return (
    <div className="card">
      <PageTitle className="mb-4">Create an account</PageTitle>
      <form onSubmit={submit} className="space-y-4" noValidate>
        <Field label="Username" name="username" autoComplete="username" autoCapitalize="none" required minLength={3} maxLength={30} hint="3–30 characters: a–z, 0–9, dot, dash, underscore" value={form.username} onChange={change('username')} />
        <Field label="Email" name="email" type="email" autoComplete="email" required maxLength={254} value={form.email} onChange={change('email')} />
        <Field label="Password" name="password" type="password" autoComplete="new-password" required minLength={10} maxLength={128} hint="At least 10 characters" value={form.password} onChange={change('password')} />
        <ErrorAlert error={error} />
        <button type="submit" className="btn-primary w-full" disabled={busy}>
          {busy ? 'Creating your account…' : 'Create account'}
        </button>
      </form>
      <p className="mt-4 text-sm">
        Already have an account?{' '}
        <Link to="/login" className="link">
          Log in
        </Link>
      </p>
    </div>
  );
}

// A verification token is single-use: remember the answer per token so a
// re-mounted page does not spend it twice.
const verifications = new Map();

export function VerifyEmailPage() {
  const api = useApi();
  const { status } = useSession();
  const [params] = useSearchParams();
  const token = params.get('token') || '';
  const [st, setSt] = useState({ state: token ? 'busy' : 'missing' });

  useEffect(() => {
    if (!token) return undefined;
    let live = true;
    let p = verifications.get(token);
    if (!p) {
      p = api.post('/api/auth/verify-email', { token }, { auth: false });
      verifications.set(token, p);
    }
    p.then(
      () => live && setSt({ state: 'done' }),
      (error) => live && setSt({ state: 'error', error }),
    );
    return () => {
      live = false;
    };
  }, [api, token]);

  return (
    <div className="card space-y-4">
      <PageTitle>Verify your email</PageTitle>
      {st.state === 'busy' && <Loading label="Checking your link…" />}
      {st.state === 'missing' && <ErrorAlert>This link has no token. Open the link from the email again.</ErrorAlert>}
      {st.state === 'error' && <ErrorAlert error={st.error} />}
      {st.state === 'done' && <Notice>Thank you: your email address is verified.</Notice>}
      <Link to={status === 'authed' ? '/events' : '/login'} className="btn-secondary w-full">
        {status === 'authed' ? 'Go to events' : 'Log in'}
      </Link>
    </div>
  );
}

export function ForgotPasswordPage() {
  const api = useApi();
  const [email, setEmail] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.post('/api/auth/forgot-password', { email: email.trim() }, { auth: false });
      setSent(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="card">
      <PageTitle className="mb-4">Forgot your password?</PageTitle>
      {sent ? (
        <Notice>If an account uses {email.trim()}, we have sent it a link to choose a new password. The link works for one hour.</Notice>
      ) : (
        <form onSubmit={submit} className="space-y-4" noValidate>
          <p className="muted">Type the email address of your account and we will send you a link to choose a new password.</p>
          <Field label="Email" type="email" name="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          <ErrorAlert error={error} />
          <button type="submit" className="btn-primary w-full" disabled={busy}>
            {busy ? 'Sending…' : 'Send reset link'}
          </button>
        </form>
      )}
      <p className="mt-4 text-sm">
        <Link to="/login" className="link">
          Back to log in
        </Link>
      </p>
    </div>
  );
}

export function ResetPasswordPage() {
  const api = useApi();
  const [params] = useSearchParams();
  const token = params.get('token') || '';
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  async function submit(e) {
    e.preventDefault();
    if (password !== confirm) {
      setError({ message: 'The two passwords are not the same.' });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.post('/api/auth/reset-password', { token, password }, { auth: false });
      setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="card">
      <PageTitle className="mb-4">Choose a new password</PageTitle>
      {!token && <ErrorAlert>This link has no token. Open the link from the email again.</ErrorAlert>}
      {done ? (
        <div className="space-y-4">
          <Notice>Your password is changed. Every device was logged out; log in with the new password.</Notice>
          <Link to="/login" className="btn-primary w-full">
            Log in
          </Link>
        </div>
      ) : (
        token && (
          <form onSubmit={submit} className="space-y-4" noValidate>
            <Field label="New password" type="password" autoComplete="new-password" required minLength={10} maxLength={128} hint="At least 10 characters" value={password} onChange={(e) => setPassword(e.target.value)} />
            <Field label="Repeat the new password" type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} />
            <ErrorAlert error={error} />
            <button type="submit" className="btn-primary w-full" disabled={busy}>
              {busy ? 'Saving…' : 'Set new password'}
            </button>
          </form>
        )
      )}
    </div>
  );
}
