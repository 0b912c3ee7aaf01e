// tests/e2e/errors.test.mjs: the PWA's refusals in a real browser: a wrong
// password shows the API's own message; a third user cannot open the
// private match page of two others (a not-found state, none of their
// chat); and the app is installable, its shell opening offline and
// saying so.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, apiUser, firstUpcomingEvent, loginViaUI, newUser, registerViaUI, T, waitForServiceWorker } from './app-steps.mjs';
import { launch, newContext, shot, url } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a wrong password shows the message the API gives', async () => {
  const user = await apiUser('wrongpw');
  // What the API says to a wrong password, asked directly.
  const direct = await api('POST', '/api/auth/login', { body: { login: user.username, password: 'not-the-password' } });
  assert.equal(direct.status, 401);
  const message = direct.body.error.message;
  assert.ok(message.length > 0);

  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  await loginViaUI(page, { ...user, password: 'still-not-the-password' });
  const alert = page.getByRole('alert');
  await alert.waitFor({ timeout: T });
  assert.equal((await alert.innerText()).trim(), message);
  // Still on the login page, nothing opened.
  assert.equal(new URL(page.url()).pathname, '/login');
  await shot(page, 'login-wrong-password');
  await ctx.close();
});

test('a third user cannot open the private match page of two others', async () => {
  const a = await apiUser('privA');
  const b = await apiUser('privB');
  const event = await firstUpcomingEvent(a.token);
  for (const u of [a, b]) {
    const j = await api('POST', `/api/events/${event.id}/join`, { token: u.token });
    assert.equal(j.status, 200);
  }
  const req = await api('POST', '/api/matches', { token: a.token, body: { targetUserId: b.id, eventId: event.id } });
  assert.equal(req.status, 201, JSON.stringify(req.body));
  const matchId = req.body.match.id;
  const acc = await api('PATCH', `/api/matches/${matchId}`, { token: b.token, body: { status: 'accepted' } });
  assert.equal(acc.status, 200);

  // A writes in the private chat through the app.
  const ctxA = await newContext(browser);
  const pageA = await ctxA.newPage();
  await loginViaUI(pageA, a, `/login`);
  await pageA.getByRole('heading', { level: 1, name: 'Events' }).waitFor({ timeout: T });
  await pageA.goto(url(`/matches/${matchId}`));
  const secret = `secret plan ${Date.now()}`;
  await pageA.getByLabel('Message', { exact: true }).fill(secret);
  const send = pageA.getByRole('button', { name: 'Send', exact: true });
  await send.click({ timeout: T });
  await pageA.getByRole('list', { name: 'Messages' }).getByText(secret).waitFor({ timeout: T });

  // C, logged in through the UI, opens the match page.
  const c = newUser('privC');
  const ctxC = await newContext(browser);
  const pageC = await ctxC.newPage();
  await registerViaUI(pageC, c);
  await pageC.goto(url(`/matches/${matchId}`));
  await pageC.getByRole('heading', { level: 1, name: 'Match not found' }).waitFor({ timeout: T });
  await pageC.getByText('This match does not exist, or it is not yours.').waitFor({ timeout: T });
  const body = await pageC.locator('body').innerText();
  assert.ok(!body.includes(secret), 'the private chat leaked to a third user');
  assert.ok(!body.includes(a.username) && !body.includes(b.username), 'the members leaked to a third user');
  assert.equal(await pageC.getByRole('region', { name: 'Video transfer' }).count(), 0);
  assert.equal(await pageC.getByRole('list', { name: 'Messages' }).count(), 0);
  await shot(pageC, 'third-user-match-not-found');

  // The rate page of that match is closed to C as well.
  await pageC.goto(url(`/matches/${matchId}/rate`));
  await pageC.getByRole('heading', { level: 1, name: 'Match not found' }).waitFor({ timeout: T });
  await ctxA.close();
  await ctxC.close();
});

test('the app is installable, and its shell opens offline and says it is offline', async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  const user = newUser('offline');
  await registerViaUI(page, user);
  await waitForServiceWorker(page);
  // Installable: Chromium finds nothing wrong with the manifest, the icons
  // or the service worker (a Playwright context is always "incognito").
  const cdp = await ctx.newCDPSession(page);
  const manifest = await cdp.send('Page.getAppManifest');
  assert.deepEqual(manifest.errors, []);
  assert.match(manifest.url, /\/manifest\.webmanifest$/);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors.filter((e) => e.errorId !== 'in-incognito'), []);
  await cdp.detach();

  await ctx.setOffline(true);
  try {
    await page.reload();
    await page.getByText('You are offline').first().waitFor({ timeout: T });
    await page.getByRole('heading', { level: 1 }).waitFor({ timeout: T });
    await shot(page, 'offline-app-shell');
  } finally {
    await ctx.setOffline(false);
  }
  // Back online, the session comes back by itself.
  await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: T });
  await ctx.close();
});
