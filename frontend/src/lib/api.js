// api.js: the app's HTTP client. Attaches the in-memory access token,
// refreshes it once through the refresh cookie on a 401 and retries, and
// turns every failure into an ApiError (errors.js).
import { ApiError, errorFromResponse, networkError } from './errors.js';

// createApi({fetchImpl, getToken, refresh, onUnauthorized}):
//   getToken()  -> the current access token or null
//   refresh()   -> Promise of a fresh token, or null when the session is gone
//                  (single-flight: the session module serialises it)
//   onUnauthorized(err) -> called when a 401 survives the refresh
export function createApi({
  fetchImpl = (...a) => globalThis.fetch(...a),
  getToken = () => null,
  refresh = async () => null,
  onUnauthorized = () => {},
  base = '',
} = {}) {
  async function send(method, path, body, token) {
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (token) headers.Authorization = `Bearer ${token}`;
    let res;
    try {
      res = await fetchImpl(base + path, init);
    } catch (cause) {
      throw networkError(cause);
    }
    let text = '';
    try {
      text = await res.text();
    } catch (cause) {
      throw networkError(cause);
    }
    let data;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    return { res, data, text };
  }

  async function request(method, path, body, { auth = true } = {}) {
    let token = auth ? getToken() : null;
    let { res, data, text } = await send(method, path, body, token);
    if (res.status === 401 && auth) {
      token = await refresh();
      if (token) {
        ({ res, data, text } = await send(method, path, body, token));
      }
      if (res.status === 401) {
        const err = errorFromResponse(401, data);
        onUnauthorized(err);
        throw err;
      }
    }
    if (!res.ok) throw errorFromResponse(res.status, data);
    if (res.status === 204 || !text) return null;
    if (data === undefined) {
      throw new ApiError({
        status: res.status,
        code: 'bad_response',
        message: 'The server sent an answer the app cannot read.',
      });
    }
    return data;
  }

  return {
    request,
    get: (path, opts) => request('GET', path, undefined, opts),
    post: (path, body, opts) => request('POST', path, body, opts),
    patch: (path, body, opts) => request('PATCH', path, body, opts),
    put: (path, body, opts) => request('PUT', path, body, opts),
    del: (path, opts) => request('DELETE', path, undefined, opts),
  };
}

// A query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
