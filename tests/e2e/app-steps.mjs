// tests/e2e/app-steps.mjs: steps of the PWA shared by the end-to-end
// tests: users, registering and logging in through the UI, and a few
// direct API calls to set up state quickly.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { shot, url } from './browser.mjs';

// Generous for a loaded CI machine; a test still fails fast on a real bug
// because every wait is for one precise visible state.
export const T = 20_000;

let n = 0;
// A user nobody has registered yet (usernames are [a-z0-9_.-], 3-30).
export function newUser(prefix) {
  n += 1;
  const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}${n}`;
  const username = `${prefix}_${tag}`.toLowerCase().slice(0, 30);
  return { username, email: `${username}@example.com`, password: `pw-${randomBytes(6).toString('hex')}`, name: `@${username}` };
}

// Runs fn(); on failure saves a screenshot of the page (FAILED-<name>)
// before passing the error on.
export async function withShot(page, name, fn) {
  try {
    return await fn();
  } catch (err) {
    await shot(page, `FAILED-${name}`).catch(() => {});
    throw err;
  }
}

export async function registerViaUI(page, user) {
  await withShot(page, 'register', async () => {
    await page.goto(url('/register'));
    await page.getByLabel('Username').fill(user.username, { timeout: T });
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    // Registering logs in and opens the events.
    await page.getByRole('heading', { level: 1, name: 'Events' }).waitFor({ timeout: T });
  });
}

export async function loginViaUI(page, user, path = '/login') {
  await withShot(page, 'login', async () => {
    await page.goto(url(path));
    await page.getByLabel('Username or email').fill(user.username, { timeout: T });
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Log in' }).click();
  });
}

export async function logoutViaUI(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor({ timeout: T });
}

// A JSON call to the gateway: {status, body}.
export async function api(method, path, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(url(path), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// Registers and logs in through the API: the user with `token` and `id`.
export async function apiUser(prefix) {
  const user = newUser(prefix);
  const reg = await api('POST', '/api/auth/register', { body: { username: user.username, email: user.email, password: user.password } });
  if (reg.status !== 201) throw new Error(`cannot register '${user.username}': ${JSON.stringify(reg.body)}`);
  const login = await api('POST', '/api/auth/login', { body: { login: user.username, password: user.password } });
  if (login.status !== 200) throw new Error(`cannot log in '${user.username}': ${JSON.stringify(login.body)}`);
  return { ...user, id: login.body.user.id, token: login.body.accessToken };
}

// Import one upcoming event (next year) through `events import`, as the
// suite's role sc_events (SC_TEST_BUILD, SC_TEST_DATABASE_URL).
async function importUpcomingEvent() {
  const year = new Date().getUTCFullYear() + 1;
  const tag = randomBytes(4).toString('hex');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-e2e-'));
  const file = path.join(dir, 'events.json');
  const db = new URL(process.env.SC_TEST_DATABASE_URL);
  db.username = 'sc_events';
  db.password = '';
  try {
    await fs.writeFile(file, JSON.stringify([{
      worldsdcId: `e2e-${tag}`, name: `E2E Swing Open ${tag}`, location: 'Testville, Germany',
      startDate: `${year}-06-10`, endDate: `${year}-06-13`,
    }]));
    await promisify(execFile)(path.join(process.env.SC_TEST_BUILD, 'events'), ['import', file],
      { env: { ...process.env, SC_DATABASE_URL: db.toString() } });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

// The first upcoming event: the seed's, or, once every seed event is
// past, one imported for the tests.
export async function firstUpcomingEvent(token) {
  let r = await api('GET', '/api/events?limit=1', { token });
  if (r.status === 200 && !r.body.items.length) {
    await importUpcomingEvent();
    r = await api('GET', '/api/events?limit=1', { token });
  }
  if (r.status !== 200 || !r.body.items.length) throw new Error(`no upcoming event: ${JSON.stringify(r.body)}`);
  return r.body.items[0];
}

// Resolves when the page is controlled by the app's service worker.
export async function waitForServiceWorker(page) {
  await page.waitForFunction(() => !!(navigator.serviceWorker && navigator.serviceWorker.controller), null, { timeout: T });
}
