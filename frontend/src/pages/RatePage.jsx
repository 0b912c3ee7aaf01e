// RatePage.jsx: rate the partner of a match (1–5, a comment, "would
// collaborate again"), and report abuse.
import { useId, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { ErrorAlert, Field, Loading, Notice, PageTitle } from '../components/ui.jsx';
import { useApi, useLoad, useSession } from '../context.jsx';
import { statsCache } from '../data.js';
import { displayName, partnerOf } from '../lib/format.js';
import { MatchNotFound } from './MatchPage.jsx';

export const REPORT_REASONS = [
  ['harassment', 'Harassment'],
  ['no_show', 'Did not show up'],
  ['inappropriate', 'Inappropriate behaviour'],
  ['spam', 'Spam'],
  ['other', 'Something else'],
];

const SCORE_WORDS = ['', 'Poor', 'Fair', 'Good', 'Very good', 'Excellent'];

function ReportForm({ match, partner }) {
  const api = useApi();
  const [reason, setReason] = useState('');
  const [details, setDetails] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const name = displayName(partner);

  async function submit(e) {
    e.preventDefault();
    if (!reason) {
      setError({ message: 'Choose a reason.' });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.post('/api/reports', { reportedUserId: partner.id, reason, details: details.trim() || null, matchId: match.id });
      setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (done) return <Notice>Thank you. Your report about {name} was sent to the moderators.</Notice>;
  return (
    <form onSubmit={submit} className="space-y-3" noValidate>
      <Field as="select" label="Reason" value={reason} onChange={(e) => setReason(e.target.value)} required>
        <option value="">Choose a reason…</option>
        {REPORT_REASONS.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </Field>
      <Field as="textarea" rows={3} label="What happened? (optional)" maxLength={1000} counter={`${details.length}/1000`} value={details} onChange={(e) => setDetails(e.target.value)} />
      <ErrorAlert error={error} />
      <button type="submit" className="btn-danger" disabled={busy}>
        {busy ? 'Sending…' : 'Send report'}
      </button>
    </form>
  );
}

export function RatePage() {
  const { id } = useParams();
  const api = useApi();
  const { user: me } = useSession();
  const m = useLoad(() => api.get(`/api/matches/${id}`).then((r) => r.match), [api, id]);
  const [score, setScore] = useState(0);
  const [comment, setComment] = useState('');
  const [again, setAgain] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const [reporting, setReporting] = useState(false);
  const legendId = useId();

  if (m.loading && !m.data) return <Loading label="Loading the match…" />;
  if (m.error && (m.error.status === 404 || m.error.status === 403)) return <MatchNotFound />;
  if (m.error) return <ErrorAlert error={m.error} />;
  const match = m.data;
  const partner = partnerOf(match, me.id);
  const name = displayName(partner);

  async function submit(e) {
    e.preventDefault();
    if (!score) {
      setError({ message: 'Choose a score from 1 to 5.' });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const res = await api.post('/api/ratings', { matchId: match.id, score, comment: comment.trim() || null, wouldCollaborateAgain: again });
      statsCache.delete(partner.id);
      setDone(res.rating);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const rateable = match.status === 'accepted' || match.status === 'completed';

  return (
    <div className="space-y-4">
      <Link to={`/matches/${match.id}`} className="link text-sm">
        ← Back to the match
      </Link>
      <div className="card space-y-4">
        <PageTitle title={`Rate ${name}`}>Rate {name}</PageTitle>
        {!rateable && <p className="text-gray-700">You can rate a partner once the match is accepted.</p>}
        {done ? (
          <div className="space-y-3">
            <Notice>
              Thank you! You gave {name} {done.score} out of 5.
            </Notice>
            <Link to="/history" className="btn-primary">
              See your history
            </Link>
          </div>
        ) : (
          rateable && (
            <form onSubmit={submit} className="space-y-4" noValidate>
              <fieldset aria-labelledby={legendId}>
                <legend id={legendId} className="label">
                  Score
                </legend>
                <div className="flex gap-2">
                  {[1, 2, 3, 4, 5].map((n) => (
                    <label key={n} className={`relative flex h-12 w-12 cursor-pointer items-center justify-center rounded-lg border text-lg font-bold has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-indigo-500 ${score >= n ? 'border-amber-400 bg-amber-100 text-amber-900' : 'border-gray-300 bg-white text-gray-500'}`}>
                      <input type="radio" name="score" value={n} checked={score === n} onChange={() => setScore(n)} className="absolute inset-0 h-full w-full cursor-pointer opacity-0" aria-label={`${n} ${n === 1 ? 'star' : 'stars'}: ${SCORE_WORDS[n]}`} />
                      <span aria-hidden="true">{n}★</span>
                    </label>
                  ))}
                </div>
                {score > 0 && <p className="mt-1 text-sm text-gray-600">{SCORE_WORDS[score]}</p>}
              </fieldset>
              <Field as="textarea" rows={4} label="Comment (optional)" maxLength={1000} counter={`${comment.length}/1000`} value={comment} onChange={(e) => setComment(e.target.value)} />
              <label className="flex items-center gap-3 text-sm">
                <input type="checkbox" className="h-5 w-5 rounded border-gray-300" checked={again} onChange={(e) => setAgain(e.target.checked)} />
                I would film with {name} again
              </label>
              <ErrorAlert error={error} />
              <button type="submit" className="btn-primary w-full" disabled={busy}>
                {busy ? 'Sending…' : 'Submit rating'}
              </button>
            </form>
          )
        )}
      </div>
      <section aria-labelledby="report-h" className="card space-y-3">
        <h2 id="report-h" className="h2">
          Report a problem
        </h2>
        {reporting ? (
          <ReportForm match={match} partner={partner} />
        ) : (
          <>
            <p className="muted">If {name} harassed you, did not show up or behaved badly, tell the moderators.</p>
            <button type="button" className="btn-danger" onClick={() => setReporting(true)}>
              Report abuse
            </button>
          </>
        )}
      </section>
    </div>
  );
}
