// Chat.jsx: a chat room (the event's or a match's private one): history
// from the REST API, live messages from the socket, a composer. Messages
// are kept by id, so a message seen twice (history and live) shows once,
// and the newest page is fetched again after a reconnect to fill the gap.
import { forwardRef, useCallback, useEffect, useId, useImperativeHandle, useLayoutEffect, useRef, useState } from 'react';
import { useApi, useSocketEvent, useSockets } from '../context.jsx';
import { displayName, formatMessageTime, isHttpUrl, linkify, newClientId } from '../lib/format.js';
import { mergeMessages } from '../lib/live.js';
import { ErrorAlert, Loading } from './ui.jsx';

// kind 'event' | 'match'; roomState from useRoom (a re-join reloads).
export function useChat(kind, id, { enabled = true, roomState } = {}) {
  const api = useApi();
  const sockets = useSockets();
  const [messages, setMessages] = useState([]);
  const [older, setOlder] = useState(null); // cursor of older messages
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const base = kind === 'event' ? `/api/chat/events/${id}/messages` : `/api/chat/matches/${id}/messages`;

  const loadNewest = useCallback(
    async (first) => {
      try {
        const page = await api.get(`${base}?limit=50`);
        setMessages((l) => mergeMessages(first ? [] : l, page.items || []));
        if (first) setOlder(page.nextCursor);
        setError(null);
      } catch (err) {
        setError(err);
      } finally {
        setLoading(false);
      }
    },
    [api, base],
  );

  useEffect(() => {
    if (!enabled || !id) return;
    setMessages([]);
    setLoading(true);
    loadNewest(true);
  }, [enabled, id, loadNewest]);

  // Back in the room after a reconnect: fetch what was missed.
  const wasJoined = useRef(false);
  useEffect(() => {
    if (roomState === 'joined') {
      if (wasJoined.current === 'lost') loadNewest(false);
      wasJoined.current = true;
    } else if (wasJoined.current === true) {
      wasJoined.current = 'lost';
    }
  }, [roomState, loadNewest]);

  useSocketEvent(kind === 'event' ? 'event_message' : 'private_message', (m) => {
    if (!enabled || !m) return;
    const room = kind === 'event' ? m.eventId : m.matchId;
    if (Number(room) !== Number(id)) return;
    setMessages((l) => mergeMessages(l, [m]));
  });

  async function loadOlder() {
    if (!older) return;
    setLoadingOlder(true);
    try {
      const page = await api.get(`${base}?limit=50&before=${encodeURIComponent(older)}`);
      setMessages((l) => mergeMessages(l, page.items || []));
      setOlder(page.nextCursor);
    } catch (err) {
      setError(err);
    } finally {
      setLoadingOlder(false);
    }
  }

  // Sends over the socket; resolves once the server stored it.
  const pending = useRef(null);
  async function send(content, type) {
    const text = content.trim();
    if (!pending.current || pending.current.text !== text) pending.current = { text, clientId: newClientId() };
    const payload =
      kind === 'event'
        ? { eventId: Number(id), content: text, clientId: pending.current.clientId }
        : { matchId: Number(id), content: text, type: type || (isHttpUrl(text) ? 'link' : 'text'), clientId: pending.current.clientId };
    if (kind === 'event' && isHttpUrl(text)) payload.type = 'link';
    const ack = await sockets.request(kind === 'event' ? 'send_event_message' : 'send_private_message', payload);
    pending.current = null;
    if (ack.message) setMessages((l) => mergeMessages(l, [ack.message]));
    return ack.message;
  }

  return { messages, loading, error, older, loadOlder, loadingOlder, send };
}

function MessageText({ content }) {
  return linkify(content).map((p, i) =>
    p.type === 'link' ? (
      <a key={i} href={p.href} target="_blank" rel="noopener noreferrer nofollow" className="break-all font-medium underline">
        {p.text}
      </a>
    ) : (
      <span key={i}>{p.text}</span>
    ),
  );
}

export const ChatPanel = forwardRef(function ChatPanel(
  { chat, me, title, disabledReason, connecting = false, placeholder = 'Write a message', emptyText = 'No messages yet. Say hello!' },
  ref,
) {
  const [text, setText] = useState('');
  const [sendError, setSendError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [hint, setHint] = useState(null);
  const listRef = useRef(null);
  const inputRef = useRef(null);
  const stick = useRef(true);
  const headingId = useId();
  const inputId = useId();

  useImperativeHandle(ref, () => ({
    // Focus the composer with a hint (the transfer's link fallback).
    focusWithHint(h) {
      setHint(h);
      inputRef.current?.focus();
    },
  }));

  useLayoutEffect(() => {
    const el = listRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [chat.messages]);

  function onScroll() {
    const el = listRef.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  }

  async function submit(e) {
    e.preventDefault();
    if (!text.trim() || busy) return;
    setBusy(true);
    setSendError(null);
    try {
      stick.current = true;
      await chat.send(text);
      setText('');
      setHint(null);
    } catch (err) {
      setSendError(err);
    } finally {
      setBusy(false);
      inputRef.current?.focus();
    }
  }

  return (
    <section aria-labelledby={headingId} className="card flex flex-col gap-3 p-3">
      <h2 id={headingId} className="h2">
        {title}
      </h2>
      {chat.error && <ErrorAlert error={chat.error} />}
      <div ref={listRef} onScroll={onScroll} className="h-80 overflow-y-auto rounded-lg bg-gray-50 p-2">
        {chat.older && (
          <div className="mb-2 text-center">
            <button type="button" className="btn-secondary btn-sm" onClick={chat.loadOlder} disabled={chat.loadingOlder}>
              {chat.loadingOlder ? 'Loading…' : 'Load older messages'}
            </button>
          </div>
        )}
        {chat.loading ? (
          <Loading label="Loading messages…" />
        ) : chat.messages.length === 0 ? (
          <p className="py-8 text-center text-sm text-gray-500">{emptyText}</p>
        ) : (
          <ol aria-label="Messages" aria-live="polite" aria-relevant="additions" className="flex flex-col gap-2">
            {chat.messages.map((m) => {
              const mine = me && m.userId === me.id;
              return (
                <li key={m.id} className={`flex flex-col ${mine ? 'items-end' : 'items-start'}`}>
                  <div className={`max-w-[85%] rounded-2xl px-3 py-2 text-sm shadow-sm ${mine ? 'bg-indigo-600 text-white' : 'bg-white text-gray-900'}`}>
                    <p className={`text-xs font-semibold ${mine ? 'text-indigo-100' : 'text-indigo-700'}`}>
                      {mine ? 'You' : displayName(m)}
                      <span className={`ml-2 font-normal ${mine ? 'text-indigo-200' : 'text-gray-500'}`}>
                        <time dateTime={m.createdAt}>{formatMessageTime(m.createdAt)}</time>
                      </span>
                    </p>
                    <p className="whitespace-pre-wrap break-words">
                      <MessageText content={m.content} />
                    </p>
                  </div>
                </li>
              );
            })}
          </ol>
        )}
      </div>
      {disabledReason ? (
        <p className="muted">{disabledReason}</p>
      ) : (
        <form onSubmit={submit} className="flex flex-col gap-2">
          {hint && <p className="text-sm text-indigo-800">{hint}</p>}
          {sendError && <ErrorAlert error={sendError} />}
          <div className="flex gap-2">
            <label htmlFor={inputId} className="sr-only">
              Message
            </label>
            <input
              id={inputId}
              ref={inputRef}
              className="input"
              value={text}
              maxLength={2000}
              placeholder={placeholder}
              autoComplete="off"
              enterKeyHint="send"
              onChange={(e) => setText(e.target.value)}
            />
            <button type="submit" className="btn-primary" disabled={busy || connecting || !text.trim()}>
              Send
            </button>
          </div>
          {connecting && <p className="text-xs text-gray-500">Connecting to the live chat…</p>}
        </form>
      )}
    </section>
  );
});
