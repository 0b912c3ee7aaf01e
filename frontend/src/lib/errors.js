// errors.js: the one error type the app shows (ApiError), built from the
// suite's error shape {"error":{"code","message","details"}} or from a
// failure to reach the server at all. Pure: tested in node.

export class ApiError extends Error {
  constructor({ status = 0, code = 'error', message, details = null } = {}) {
    super(message || 'Something went wrong. Please try again.');
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// A sentence for an answer that carries no usable error body (a proxy's
// HTML page, an empty 502...).
export function messageForStatus(status) {
  if (status === 401) return 'Please log in again.';
  if (status === 403) return 'You are not allowed to do that.';
  if (status === 404) return 'Not found.';
  if (status === 413) return 'That is too large.';
  if (status === 429) return 'Too many attempts. Please wait a moment and try again.';
  if (status === 502 || status === 503 || status === 504) {
    return 'The service is unavailable right now. Please try again in a moment.';
  }
  if (status >= 500) return 'The server had a problem. Please try again.';
  return `The request failed (HTTP ${status}).`;
}

// The ApiError for a non-2xx answer: `body` is the parsed JSON (or
// undefined when the body was not JSON).
export function errorFromResponse(status, body) {
  const e = body && typeof body === 'object' ? body.error : null;
  if (e && typeof e === 'object' && typeof e.message === 'string' && e.message) {
    return new ApiError({
      status,
      code: typeof e.code === 'string' ? e.code : 'error',
      message: e.message,
      details: e.details && typeof e.details === 'object' ? e.details : null,
    });
  }
  return new ApiError({ status, code: `http_${status}`, message: messageForStatus(status) });
}

export const NETWORK_MESSAGE =
  'Cannot reach spotlight.cam. Check your connection and try again.';

export function networkError(cause) {
  const err = new ApiError({ status: 0, code: 'network_error', message: NETWORK_MESSAGE });
  if (cause) err.cause = cause;
  return err;
}

// A refusal in a Socket.IO ack ({ok:false, error:{code, message, details}})
// or a timeout, as an ApiError so screens show both the same way.
export function errorFromAck(ack) {
  const e = ack && typeof ack === 'object' ? ack.error : null;
  if (e && typeof e === 'object' && typeof e.message === 'string') {
    return new ApiError({
      status: 0,
      code: typeof e.code === 'string' ? e.code : 'error',
      message: e.message,
      details: e.details && typeof e.details === 'object' ? e.details : null,
    });
  }
  return new ApiError({ status: 0, code: 'error', message: 'The server refused the request.' });
}

// Details of a 422 as "field: problem" lines, for a form's error box.
export function detailLines(err) {
  if (!err || !err.details || typeof err.details !== 'object') return [];
  return Object.entries(err.details)
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `${k}: ${v}`);
}
