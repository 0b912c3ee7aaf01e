// TransferPanel.jsx: send a video to the match partner phone-to-phone over
// WebRTC, or receive one: choose, offer, accept, progress with speed and
// time left, cancel, SHA-256 verified, save. The logic lives in
// controller.js; this renders its snapshot. Props: see
// .notes/frontend-contract.md (matchId, socket, me, partner, api,
// onFallbackLink).
import { useEffect, useId, useRef, useState } from 'react';

import { TransferController, partnerName } from './controller.js';
import { formatBytes, formatEta, formatSpeed } from './progress.js';

const BUSY = new Set(['connecting', 'offered', 'incoming', 'accepting',
  'transferring', 'verifying']);

const button = 'inline-flex min-h-[44px] items-center justify-center ' +
  'rounded-lg px-4 py-2 text-sm font-semibold focus:outline-none ' +
  'focus-visible:ring-2 focus-visible:ring-offset-2 disabled:opacity-50';
const primary = `${button} bg-indigo-600 text-white hover:bg-indigo-700 ` +
  'focus-visible:ring-indigo-500 disabled:hover:bg-indigo-600';
const secondary = `${button} border border-gray-300 bg-white text-gray-800 ` +
  'hover:bg-gray-50 focus-visible:ring-gray-400';

export default function TransferPanel({ matchId, socket, me, partner, api,
  onFallbackLink }) {
  const [controller, setController] = useState(null);
  const [snap, setSnap] = useState(null);
  const latest = useRef({ me, partner, api });
  latest.current = { me, partner, api };

  useEffect(() => {
    if (!socket || !matchId) {
      return undefined;
    }
    const c = new TransferController({ matchId, socket,
      ...latest.current });
    const off = c.subscribe(setSnap);
    c.start();
    setController(c);
    setSnap(c.getSnapshot());
    return () => {
      off();
      c.dispose();
    };
  }, [matchId, socket, me?.id, partner?.id]);

  // Names and the API client may change without a new controller.
  useEffect(() => {
    if (controller) {
      controller.me = me;
      controller.partner = partner;
      controller.api = api;
    }
  }, [controller, me, partner, api]);

  if (!controller || !snap) {
    return <p className="text-sm text-gray-600">Preparing video transfer…</p>;
  }
  const name = partnerName(partner);
  const busy = BUSY.has(snap.phase);
  return (
    <div className="space-y-4">
      <div aria-live="polite" className="space-y-3">
        <Status snap={snap} name={name} controller={controller}
          onFallbackLink={onFallbackLink} />
      </div>
      {snap.received && <Received file={snap.received} name={name} />}
      {/* Hidden, not unmounted, while busy: the chosen file stays chosen
          for another try. */}
      <SendForm controller={controller} name={name} hidden={busy} />
    </div>
  );
}

function SendForm({ controller, name, hidden }) {
  const id = useId();
  const [file, setFile] = useState(null);
  return (
    <form className="space-y-2" hidden={hidden} onSubmit={(e) => {
      e.preventDefault();
      if (file) {
        controller.sendFile(file);
      }
    }}>
      <label htmlFor={id} className="block text-sm font-medium text-gray-800">
        Video file
      </label>
      <input id={id} type="file" accept="video/*"
        className="block w-full text-sm text-gray-700 file:mr-3 file:rounded-lg file:border-0 file:bg-gray-100 file:px-3 file:py-2 file:text-sm file:font-medium"
        onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      {file && (
        <p className="text-sm text-gray-600 break-all">
          {file.name} · {formatBytes(file.size)}
        </p>
      )}
      <p className="text-xs text-gray-500">
        The video goes straight from this device to {name}&apos;s; it never
        touches our server.
      </p>
      <button type="submit" className={primary} disabled={!file}>
        Send video
      </button>
    </form>
  );
}

function Status({ snap, name, controller, onFallbackLink }) {
  const f = snap.file;
  const what = f ? <><strong className="break-all">{f.name}</strong> ({formatBytes(f.size)})</> : 'a video';
  const cancel = (
    <button type="button" className={secondary}
      onClick={() => controller.cancel()}>Cancel</button>
  );
  switch (snap.phase) {
    case 'connecting':
      return snap.role === 'send' ? (
        <>
          <p className="text-sm">Connecting to {name}…</p>
          {cancel}
        </>
      ) : (
        <p className="text-sm">{name} is connecting to send you a video…</p>
      );
    case 'offered':
      return (
        <>
          <p className="text-sm">Waiting for {name} to accept {what}…</p>
          {cancel}
        </>
      );
    case 'incoming':
      return (
        <>
          <p className="text-sm">{name} wants to send you {what}.</p>
          <div className="flex gap-2">
            <button type="button" className={primary}
              onClick={() => controller.accept()}>Accept</button>
            <button type="button" className={secondary}
              onClick={() => controller.decline()}>Decline</button>
          </div>
        </>
      );
    case 'accepting':
      return <p className="text-sm">Getting ready to receive {what}…</p>;
    case 'transferring':
    case 'verifying':
      return (
        <>
          <p className="text-sm">
            {snap.role === 'send' ? 'Sending' : 'Receiving'} {what}
            {snap.role === 'send' ? ` to ${name}` : ` from ${name}`}
          </p>
          <Progress snap={snap} />
          {snap.phase === 'verifying' ? (
            <p className="text-sm text-gray-600">Checking the SHA-256…</p>
          ) : null}
          {cancel}
        </>
      );
    case 'done':
      return snap.role === 'send' ? (
        <div className="rounded-lg border border-green-300 bg-green-50 p-3"
          data-duration-ms={snap.durationMs ?? undefined}>
          <p role="status" className="text-sm font-semibold text-green-800">
            Sent — SHA-256 verified by {name}
          </p>
          <p className="text-sm text-green-900">{what}{speedNote(snap)}</p>
        </div>
      ) : null;
    case 'declined':
      return (
        <p role="status" className="text-sm">
          {snap.role === 'send' ? `${name} declined ` : 'You declined '}{what}.
        </p>
      );
    case 'cancelled':
      return (
        <p role="status" className="text-sm">
          Transfer cancelled{snap.cancelledBy === 'partner' ?
            ` by ${name}` : ''}.
        </p>
      );
    case 'failed':
      return (
        <div role="alert"
          className="space-y-2 rounded-lg border border-red-300 bg-red-50 p-3 text-sm text-red-800">
          <p>{snap.error?.message ?? 'The transfer failed.'}</p>
          {snap.error?.fallback && onFallbackLink ? (
            <button type="button" className={secondary}
              onClick={() => onFallbackLink()}>Share a link instead</button>
          ) : null}
        </div>
      );
    default:
      return null;
  }
}

function speedNote(snap) {
  if (!snap.durationMs || !snap.file?.size) {
    return '';
  }
  const s = snap.durationMs / 1000;
  return ` in ${s < 10 ? s.toFixed(1) : Math.round(s)} s ` +
    `(${formatSpeed(snap.file.size / s)})`;
}

function Progress({ snap }) {
  const p = snap.progress;
  const pct = p ? Math.floor(p.fraction * 100) : 0;
  return (
    <div className="space-y-1">
      <div role="progressbar" aria-label="Transfer progress"
        aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}
        aria-valuetext={`${pct}%`}
        className="h-3 w-full overflow-hidden rounded-full bg-gray-200">
        <div className="h-full rounded-full bg-indigo-600"
          style={{ width: `${pct}%` }} />
      </div>
      <p className="flex flex-wrap justify-between gap-x-3 text-xs text-gray-600">
        <span>{pct}% · {formatBytes(p?.bytes ?? 0)} of {formatBytes(p?.total ?? 0)}</span>
        <span>{formatSpeed(p?.speed ?? null)}</span>
        <span>{p?.eta === null || p?.eta === undefined ?
          'estimating time left…' : `${formatEta(p.eta)} left`}</span>
      </p>
    </div>
  );
}

function Received({ file, name }) {
  return (
    <div className="space-y-2 rounded-lg border border-green-300 bg-green-50 p-3"
      data-storage={file.storage ?? undefined}>
      <p role="status" className="text-sm font-semibold text-green-800">
        SHA-256 verified
      </p>
      <p className="text-sm text-green-900 break-all">
        {file.name} ({formatBytes(file.size)}) from {name}
      </p>
      <a href={file.url} download={file.name} className={primary}>
        Save video
      </a>
    </div>
  );
}
