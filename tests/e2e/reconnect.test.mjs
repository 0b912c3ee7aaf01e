// tests/e2e/reconnect.test.mjs: the app's live connection survives the
// signaling daemon restarting: both pages say they are reconnecting, come
// back by themselves, re-join the event room (presence and live chat work
// again) without a reload. Also: a private page opened logged out goes to
// the login and comes back after it. Needs a suite started by
// tests/lib/suite.sh (SC_TEST_VAR), to stop and start signaling.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { api, apiUser, firstUpcomingEvent, loginViaUI, T } from './app-steps.mjs';
import { launch, newContext, shot } from './browser.mjs';

const run = promisify(execFile);
const repo = process.env.SC_TEST_REPO;
const suiteVar = process.env.SC_TEST_VAR;

async function localSh(...args) {
  await run(join(repo, 'deploy', 'local.sh'), args, { env: { ...process.env, SC_VAR: suiteVar }, timeout: 90_000 });
}

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('the live connection comes back after signaling restarts and re-joins the room', { skip: !repo || !suiteVar ? 'needs a suite from tests/lib/suite.sh (SC_TEST_VAR, SC_TEST_REPO)' : false }, async () => {
  const a = await apiUser('reca');
  const b = await apiUser('recb');
  const event = await firstUpcomingEvent(a.token);
  for (const u of [a, b]) assert.equal((await api('POST', `/api/events/${event.id}/join`, { token: u.token })).status, 200);

  const pages = [];
  for (const u of [a, b]) {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    // Opened logged out: the login, then back to the event.
    await loginViaUI(page, u, `/events/${event.id}`);
    await page.getByRole('button', { name: 'Leave event' }).waitFor({ timeout: T });
    assert.equal(new URL(page.url()).pathname, `/events/${event.id}`);
    pages.push(page);
  }
  const [pageA, pageB] = pages;
  await pageA.getByRole('region', { name: 'Online now' }).getByText(b.name).waitFor({ timeout: T });

  await localSh('stop-service', 'signaling');
  let started = false;
  try {
    for (const page of pages) await page.getByText('Reconnecting to live updates…').waitFor({ timeout: T });
    await shot(pageA, 'reconnect-signaling-down');
    await localSh('start-service', 'signaling');
    started = true;
  } finally {
    if (!started) await localSh('start-service', 'signaling');
  }
  for (const page of pages) {
    await page.getByText('Reconnecting to live updates…').waitFor({ state: 'hidden', timeout: T });
  }
  // Re-joined: each is online for the other again, and chat flows live.
  await pageA.getByRole('region', { name: 'Online now' }).getByText(b.name).waitFor({ timeout: T });
  await pageB.getByRole('region', { name: 'Online now' }).getByText(a.name).waitFor({ timeout: T });
  const text = `back again ${Date.now()}`;
  await pageA.getByLabel('Message', { exact: true }).fill(text);
  await pageA.getByRole('button', { name: 'Send', exact: true }).click();
  await pageB.getByRole('list', { name: 'Messages' }).getByText(text).waitFor({ timeout: T });
  await shot(pageB, 'reconnect-chat-live-again');
});
