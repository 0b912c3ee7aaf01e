import { describe, expect, it, vi } from 'vitest';
import { createApi, query } from '../src/lib/api.js';
import { ApiError, NETWORK_MESSAGE } from '../src/lib/errors.js';
import { apiError, fakeFetch, json } from './fakes.js';

function client(fetchImpl, { token = 't1', refresh = async () => 't2', onUnauthorized = vi.fn() } = {}) {
  let current = token;
  return {
    api: createApi({
      fetchImpl,
      getToken: () => current,
      refresh: async () => {
        const t = await refresh();
        if (t) current = t;
        return t;
      },
      onUnauthorized,
    }),
    onUnauthorized,
  };
}

describe('api', () => {
  it('sends the access token and JSON, and resolves the parsed answer', async () => {
    const f = fakeFetch(json(200, { ok: 1 }));
    const { api } = client(f);
    await expect(api.patch('/api/users/me', { bio: 'hi' })).resolves.toEqual({ ok: 1 });
    expect(f.calls[0].url).toBe('/api/users/me');
    expect(f.calls[0].method).toBe('PATCH');
    expect(f.calls[0].headers.Authorization).toBe('Bearer t1');
    expect(f.calls[0].headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(f.calls[0].body)).toEqual({ bio: 'hi' });
    expect(f.calls[0].credentials).toBe('same-origin');
  });

  it('sends no body and no Content-Type on a GET', async () => {
    const f = fakeFetch(json(200, {}));
    await client(f).api.get('/api/events');
    expect(f.calls[0].body).toBeUndefined();
    expect(f.calls[0].headers['Content-Type']).toBeUndefined();
  });

  it('resolves null for 204 No Content', async () => {
    const f = fakeFetch({ status: 204 });
    await expect(client(f).api.post('/api/auth/logout', undefined, { auth: false })).resolves.toBeNull();
  });

  it('turns the suite error shape into an ApiError with status, code, message and details', async () => {
    const f = fakeFetch(apiError(422, 'validation_failed', 'invalid input', { username: 'must be 3 to 30 characters' }));
    const err = await client(f).api.post('/api/auth/register', {}).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(422);
    expect(err.code).toBe('validation_failed');
    expect(err.message).toBe('invalid input');
    expect(err.details).toEqual({ username: 'must be 3 to 30 characters' });
  });

  it('on a 401 refreshes once and retries with the new token', async () => {
    const f = fakeFetch(apiError(401, 'unauthorized', 'token expired'), json(200, { items: [] }));
    const refresh = vi.fn(async () => 'fresh');
    const { api, onUnauthorized } = client(f, { refresh });
    await expect(api.get('/api/matches')).resolves.toEqual({ items: [] });
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(f.calls.map((c) => c.headers.Authorization)).toEqual(['Bearer t1', 'Bearer fresh']);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('gives up after one refresh when the retry is refused too', async () => {
    const f = fakeFetch(apiError(401, 'unauthorized', 'no'), apiError(401, 'unauthorized', 'still no'));
    const refresh = vi.fn(async () => 'fresh');
    const { api, onUnauthorized } = client(f, { refresh });
    const err = await api.get('/api/matches').catch((e) => e);
    expect(err.status).toBe(401);
    expect(err.message).toBe('still no');
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(f.calls).toHaveLength(2);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('does not retry when the session is gone (refresh gives no token)', async () => {
    const f = fakeFetch(apiError(401, 'unauthorized', 'token expired'));
    const { api, onUnauthorized } = client(f, { refresh: async () => null });
    const err = await api.get('/api/events').catch((e) => e);
    expect(err.status).toBe(401);
    expect(f.calls).toHaveLength(1);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('never refreshes for a call made without auth (a wrong password is just an error)', async () => {
    const f = fakeFetch(apiError(401, 'invalid_credentials', 'wrong username, email or password'));
    const refresh = vi.fn(async () => 'x');
    const { api, onUnauthorized } = client(f, { refresh });
    const err = await api.post('/api/auth/login', { login: 'a', password: 'b' }, { auth: false }).catch((e) => e);
    expect(err.message).toBe('wrong username, email or password');
    expect(err.code).toBe('invalid_credentials');
    expect(refresh).not.toHaveBeenCalled();
    expect(onUnauthorized).not.toHaveBeenCalled();
    expect(f.calls[0].headers.Authorization).toBeUndefined();
  });

  it('passes a network failure of the refresh on as that failure', async () => {
    const f = fakeFetch(apiError(401, 'unauthorized', 'expired'));
    const offline = new ApiError({ code: 'network_error', message: NETWORK_MESSAGE });
    const { api, onUnauthorized } = client(f, {
      refresh: async () => {
        throw offline;
      },
    });
    await expect(api.get('/api/events')).rejects.toBe(offline);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('turns a failed fetch into a network ApiError with a clear message', async () => {
    const f = fakeFetch(new TypeError('Failed to fetch'));
    const err = await client(f).api.get('/api/events').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(0);
    expect(err.code).toBe('network_error');
    expect(err.message).toBe(NETWORK_MESSAGE);
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it('explains an error page that is not JSON (a proxy 502) by its status', async () => {
    const f = fakeFetch({ status: 502, body: '<html>Bad Gateway</html>' });
    const err = await client(f).api.get('/api/events').catch((e) => e);
    expect(err.status).toBe(502);
    expect(err.code).toBe('http_502');
    expect(err.message).toMatch(/unavailable/);
  });

  it('refuses a 200 whose body is not JSON', async () => {
    const f = fakeFetch({ status: 200, body: '<html>' });
    const err = await client(f).api.get('/api/events').catch((e) => e);
    expect(err.code).toBe('bad_response');
  });
});

describe('query', () => {
  it('leaves out empty values and encodes the rest', () => {
    expect(query({ when: 'past', q: 'a&b', cursor: null, limit: 20, x: '' })).toBe('?when=past&q=a%26b&limit=20');
    expect(query({ q: '' })).toBe('');
  });
});
