// ui.jsx: the small shared pieces of every screen: headings that take the
// focus on navigation, errors, loading and empty states, fields, avatars,
// badges.
import { useEffect, useId, useRef } from 'react';
import { Link } from 'react-router-dom';
import { detailLines } from '../lib/errors.js';
import { displayName, formatStats, initials, STATUS_LABELS } from '../lib/format.js';

// The page's h1: sets the document title and takes the focus when the page
// opens, so a screen reader announces the new screen.
export function PageTitle({ children, title, className = '' }) {
  const ref = useRef(null);
  const text = title || (typeof children === 'string' ? children : '');
  useEffect(() => {
    document.title = text ? `${text} · spotlight.cam` : 'spotlight.cam';
    ref.current?.focus({ preventScroll: true });
  }, [text]);
  return (
    <h1 ref={ref} tabIndex={-1} className={`h1 ${className}`}>
      {children}
    </h1>
  );
}

// An error from the API (its message, and a 422's field details).
export function ErrorAlert({ error, className = '', children }) {
  if (!error && !children) return null;
  const lines = detailLines(error);
  return (
    <div role="alert" className={`rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 ${className}`}>
      {error ? <p>{error.message || String(error)}</p> : null}
      {lines.length > 0 && (
        <ul className="mt-1 list-disc pl-5">
          {lines.map((l) => (
            <li key={l}>{l}</li>
          ))}
        </ul>
      )}
      {children}
    </div>
  );
}

export function Notice({ children, className = '' }) {
  return (
    <div role="status" className={`rounded-lg border border-emerald-200 bg-emerald-50 px-3 py-2 text-sm text-emerald-900 ${className}`}>
      {children}
    </div>
  );
}

export function Loading({ label = 'Loading…', className = '' }) {
  return (
    <div role="status" aria-live="polite" className={`flex items-center gap-2 py-6 text-sm text-gray-600 ${className}`}>
      <span aria-hidden="true" className="h-4 w-4 animate-spin rounded-full border-2 border-gray-300 border-t-indigo-600" />
      {label}
    </div>
  );
}

export function Empty({ children, className = '' }) {
  return <p className={`rounded-lg border border-dashed border-gray-300 px-4 py-6 text-center text-sm text-gray-600 ${className}`}>{children}</p>;
}

// A labelled input (or textarea/select via `as`), with a hint and a counter.
export function Field({ label, hint, as = 'input', className = '', counter, ...props }) {
  const id = useId();
  const hintId = hint || counter ? `${id}-hint` : undefined;
  const Tag = as;
  return (
    <div className={className}>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <Tag id={id} aria-describedby={hintId} className="input" {...props} />
      {(hint || counter) && (
        <p id={hintId} className="mt-1 flex justify-between text-xs text-gray-500">
          <span>{hint}</span>
          {counter ? <span>{counter}</span> : null}
        </p>
      )}
    </div>
  );
}

export function Avatar({ user, size = 40 }) {
  const url = user && typeof user.avatarUrl === 'string' && /^https?:\/\//i.test(user.avatarUrl) ? user.avatarUrl : null;
  const style = { width: size, height: size };
  if (url) {
    return <img src={url} alt="" style={style} className="shrink-0 rounded-full object-cover" referrerPolicy="no-referrer" loading="lazy" />;
  }
  return (
    <span aria-hidden="true" style={style} className="inline-flex shrink-0 items-center justify-center rounded-full bg-indigo-100 text-sm font-bold text-indigo-800">
      {initials(user)}
    </span>
  );
}

// A name linking to the public profile.
export function UserLink({ user, className = 'link' }) {
  if (!user || !user.username) return <span>{displayName(user)}</span>;
  return (
    <Link to={`/users/${encodeURIComponent(user.username)}`} className={className}>
      {displayName(user)}
    </Link>
  );
}

const BADGE = {
  pending: 'bg-amber-100 text-amber-900',
  accepted: 'bg-emerald-100 text-emerald-900',
  completed: 'bg-indigo-100 text-indigo-900',
  rejected: 'bg-gray-200 text-gray-700',
  cancelled: 'bg-gray-200 text-gray-700',
};

export function StatusBadge({ status }) {
  return (
    <span className={`inline-block rounded-full px-2 py-0.5 text-xs font-semibold ${BADGE[status] || 'bg-gray-100 text-gray-700'}`}>
      {STATUS_LABELS[status] || status}
    </span>
  );
}

export function StatsLine({ stats, className = 'text-xs text-gray-600' }) {
  if (stats === undefined) return <span className={className}>…</span>;
  if (stats === null) return <span className={className}>Ratings unavailable</span>;
  return <span className={className}>{formatStats(stats)}</span>;
}
