// ProfilePages.jsx: my profile (editable) and another dancer's public
// profile with their rating stats and the ratings they received.
import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Avatar, ErrorAlert, Field, Loading, Notice, PageTitle, StatsLine } from '../components/ui.jsx';
import { useApi, useLoad, useSession, useSessionObject } from '../context.jsx';
import { useStats } from '../data.js';
import { displayName } from '../lib/format.js';
import { profilePatch } from '../lib/live.js';
import { RatingItem } from './HistoryPage.jsx';

const EMPTY = { displayName: '', avatarUrl: '', wsdcId: '', bio: '' };

function toForm(u) {
  return {
    displayName: u.displayName || '',
    avatarUrl: u.avatarUrl || '',
    wsdcId: u.wsdcId == null ? '' : String(u.wsdcId),
    bio: u.bio || '',
  };
}

export function ProfilePage() {
  const api = useApi();
  const session = useSessionObject();
  const { user } = useSession();
  const me = useLoad(() => api.get('/api/users/me'), [api]);
  const stats = useStats(user.id, { fresh: true });
  const [form, setForm] = useState(EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (me.data) setForm(toForm(me.data));
  }, [me.data]);

  const change = (k) => (e) => {
    setSaved(false);
    setForm((f) => ({ ...f, [k]: e.target.value }));
  };

  async function submit(e) {
    e.preventDefault();
    const body = profilePatch(toForm(me.data), form);
    setSaved(false);
    setError(null);
    if (Object.keys(body).length === 0) {
      setSaved(true);
      return;
    }
    setBusy(true);
    try {
      const u = await api.patch('/api/users/me', body);
      me.setData(u);
      session.setUser(u);
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (me.loading && !me.data) return <Loading label="Loading your profile…" />;
  if (me.error && !me.data) return <ErrorAlert error={me.error} />;
  const u = me.data;

  return (
    <div className="space-y-4">
      <div className="card flex items-center gap-4">
        <Avatar user={u} size={64} />
        <div className="min-w-0">
          <PageTitle title="Your profile" className="truncate">
            {displayName(u)}
          </PageTitle>
          <p className="text-sm text-gray-600">
            @{u.username} · {u.email}
          </p>
          <p className="text-sm">
            <StatsLine stats={stats} className="text-gray-700" />
          </p>
          <Link to={`/users/${encodeURIComponent(u.username)}`} className="link text-sm">
            See your public profile
          </Link>
        </div>
      </div>
      {!u.emailVerified && (
        <p role="note" className="rounded-lg border border-amber-200 bg-amber-50 px-3 py-2 text-sm text-amber-900">
          Your email address is not verified yet: open the link we sent to {u.email}.
        </p>
      )}
      <form onSubmit={submit} className="card space-y-4" noValidate>
        <h2 className="h2">Edit profile</h2>
        <Field label="Display name" maxLength={50} autoComplete="nickname" value={form.displayName} onChange={change('displayName')} counter={`${form.displayName.length}/50`} />
        <Field label="Avatar URL" type="url" inputMode="url" maxLength={2048} placeholder="https://…" value={form.avatarUrl} onChange={change('avatarUrl')} />
        <Field label="WSDC ID" inputMode="numeric" pattern="[0-9]*" maxLength={8} hint="Your World Swing Dance Council number" value={form.wsdcId} onChange={change('wsdcId')} />
        <Field as="textarea" rows={4} label="Bio" maxLength={500} value={form.bio} onChange={change('bio')} counter={`${form.bio.length}/500`} />
        <ErrorAlert error={error} />
        {saved && <Notice>Profile saved.</Notice>}
        <button type="submit" className="btn-primary w-full" disabled={busy}>
          {busy ? 'Saving…' : 'Save profile'}
        </button>
      </form>
    </div>
  );
}

export function UserPage() {
  const { username } = useParams();
  const api = useApi();
  const p = useLoad(() => api.get(`/api/users/${encodeURIComponent(username)}`), [api, username]);
  const u = p.data;
  const stats = useStats(u && u.id, { fresh: true });
  const ratings = useLoad(() => (u ? api.get(`/api/ratings/user/${u.id}?direction=received&limit=20`) : Promise.resolve(null)), [api, u && u.id]);

  if (p.loading && !u) return <Loading label="Loading the profile…" />;
  if (p.error && p.error.status === 404) {
    return (
      <div className="space-y-4">
        <PageTitle>Dancer not found</PageTitle>
        <p className="muted">Nobody uses the username “{username}”.</p>
      </div>
    );
  }
  if (p.error) return <ErrorAlert error={p.error} />;

  return (
    <div className="space-y-4">
      <div className="card space-y-3">
        <div className="flex items-center gap-4">
          <Avatar user={u} size={64} />
          <div className="min-w-0">
            <PageTitle title={displayName(u)} className="truncate">
              {displayName(u)}
            </PageTitle>
            <p className="text-sm text-gray-600">@{u.username}</p>
            {u.wsdcId != null && <p className="text-sm text-gray-600">WSDC #{u.wsdcId}</p>}
          </div>
        </div>
        {u.bio && <p className="whitespace-pre-line text-sm text-gray-800">{u.bio}</p>}
        <section aria-label="Rating stats" className="rounded-lg bg-gray-50 p-3">
          <h2 className="text-sm font-semibold text-gray-800">Rating</h2>
          {stats === undefined ? (
            <Loading />
          ) : stats === null ? (
            <p className="muted">Ratings are unavailable right now.</p>
          ) : stats.count === 0 ? (
            <p className="muted">No ratings yet.</p>
          ) : (
            <dl className="mt-1 grid grid-cols-3 gap-2 text-center">
              <div>
                <dt className="text-xs text-gray-500">Average</dt>
                <dd className="text-lg font-bold">{stats.average.toFixed(1)} ★</dd>
              </div>
              <div>
                <dt className="text-xs text-gray-500">Ratings</dt>
                <dd className="text-lg font-bold">{stats.count}</dd>
              </div>
              <div>
                <dt className="text-xs text-gray-500">Would film again</dt>
                <dd className="text-lg font-bold">{Math.round(stats.wouldCollaborateAgainShare * 100)}%</dd>
              </div>
            </dl>
          )}
        </section>
      </div>
      <section aria-label="Ratings received" className="card p-3">
        <h2 className="h2">Ratings received</h2>
        {ratings.loading ? (
          <Loading />
        ) : ratings.error ? (
          <ErrorAlert error={ratings.error} />
        ) : !ratings.data || ratings.data.items.length === 0 ? (
          <p className="muted mt-2">No ratings yet.</p>
        ) : (
          <ul>
            {ratings.data.items.map((r) => (
              <RatingItem key={r.id} rating={r} who="rater" />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
