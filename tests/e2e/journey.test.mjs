// tests/e2e/journey.test.mjs: the whole user journey of SPEC.md in a real
// browser, through the gateway, with two users in two browser contexts:
// register, log in, join one event, chat live in the event room, a match
// request sent from the participants list and accepted live, a private chat,
// a 50 MB file sent over WebRTC with its SHA-256 checked
// (transfer-steps.mjs), then completed, rated both ways (and the report form
// used) and seen in history and on the partner's public profile.
// A screenshot at each step lands in build/e2e/.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { api, apiUser, firstUpcomingEvent, logoutViaUI, loginViaUI, newUser, registerViaUI, T } from './app-steps.mjs';
import { launch, newContext, shot, url } from './browser.mjs';
import { sendFile } from './transfer-steps.mjs';

const FILE_BYTES = 50 * 1024 * 1024;

// A file of random bytes and its SHA-256 (hex), written a MiB at a time.
async function randomFile(dir, bytes) {
  const path = join(dir, 'heat-3-video.mp4');
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = bytes; left > 0; ) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    hash.update(chunk);
    left -= chunk.length;
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
  return { path, sha256: hash.digest('hex') };
}

let browser;
let tmp;
before(async () => {
  browser = await launch();
  tmp = mkdtempSync(join(tmpdir(), 'spotlight-e2e-'));
});
after(async () => {
  await browser?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// The list item of a user in a list (items are labelled with the name).
const item = (list, name) => list.getByRole('listitem', { name, exact: true });

test('two dancers go through the whole journey', async () => {
  const a = newUser('ana');
  const b = newUser('ben');
  const ctxA = await newContext(browser);
  const ctxB = await newContext(browser);
  const pageA = await ctxA.newPage();
  const pageB = await ctxB.newPage();
  // Uncaught errors and CSP refusals fail the journey (a refused resource
  // load, such as the 401 of the first session check, does not).
  const problems = [];
  for (const [who, page] of [['A', pageA], ['B', pageB]]) {
    page.on('pageerror', (e) => problems.push(`${who}: uncaught ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Uncaught/i.test(m.text())) problems.push(`${who}: ${m.text()}`);
    });
  }
  const file = randomFile(tmp, FILE_BYTES); // meanwhile

  // 1. Both register through the UI (which logs them in); A logs out and in
  // again through the login page.
  await Promise.all([registerViaUI(pageA, a), registerViaUI(pageB, b)]);
  await shot(pageA, 'journey-registered-events');
  await logoutViaUI(pageA);
  await loginViaUI(pageA, a);
  await pageA.getByRole('heading', { level: 1, name: 'Events' }).waitFor({ timeout: T });
  assert.equal(new URL(pageA.url()).pathname, '/events');

  // 2. A finds an upcoming event by searching its name and opens it; B
  // opens the same one. (The least joined one: on a suite that earlier runs
  // filled, the two must still be on the participants list's first page.)
  const scout = await apiUser('scout');
  await firstUpcomingEvent(scout.token); // imports one once the seed is past
  const { body: { items: upcoming } } = await api('GET', '/api/events?limit=100', { token: scout.token });
  assert.ok(upcoming.length > 0, 'no upcoming event');
  const eventName = upcoming.reduce((x, y) => (y.participantCount < x.participantCount ? y : x)).name;
  await pageA.getByRole('searchbox', { name: 'Search events' }).fill(eventName);
  await pageA.getByRole('button', { name: 'Search', exact: true }).click();
  await pageA.getByRole('list', { name: 'Upcoming events' }).getByRole('link', { name: eventName, exact: true }).click();
  await pageA.getByRole('heading', { level: 1, name: eventName }).waitFor({ timeout: T });
  const eventPath = new URL(pageA.url()).pathname;
  assert.match(eventPath, /^\/events\/\d+$/);
  await pageB.goto(url(eventPath));
  await pageB.getByRole('heading', { level: 1, name: eventName }).waitFor({ timeout: T });

  // 3. Both join it ("I'm at this event"), A first.
  for (const page of [pageA, pageB]) {
    await page.getByRole('button', { name: "I'm at this event" }).click();
    await page.getByRole('button', { name: 'Leave event' }).waitFor({ timeout: T });
  }
  // Each sees the other online.
  await pageA.getByRole('region', { name: 'Online now' }).getByText(b.name).waitFor({ timeout: T });
  await pageB.getByRole('region', { name: 'Online now' }).getByText(a.name).waitFor({ timeout: T });
  await shot(pageB, 'journey-event-joined');

  // 4. Event chat, live both ways.
  const helloA = `Who films heat 3? (${a.username})`;
  await pageA.getByLabel('Message', { exact: true }).fill(helloA);
  await pageA.getByRole('button', { name: 'Send', exact: true }).click();
  await pageB.getByRole('list', { name: 'Messages' }).getByText(helloA).waitFor({ timeout: T });
  const helloB = `Me! I dance in heat 5 (${b.username})`;
  await pageB.getByLabel('Message', { exact: true }).fill(helloB);
  await pageB.getByRole('button', { name: 'Send', exact: true }).click();
  await pageA.getByRole('list', { name: 'Messages' }).getByText(helloB).waitFor({ timeout: T });
  await shot(pageA, 'journey-event-chat');

  // 5. B waits on the matches screen; A asks B from the participants list.
  await pageB.getByRole('link', { name: 'Matches', exact: true }).click();
  await pageB.getByRole('heading', { level: 1, name: 'Matches' }).waitFor({ timeout: T });
  const rowB = item(pageA.getByRole('list', { name: 'Participants' }), b.name);
  await rowB.getByRole('button', { name: /Film each other\?/ }).click();
  await rowB.getByText('Pending').waitFor({ timeout: T });
  await shot(pageA, 'journey-request-sent');

  // 6. B sees the request arrive live and accepts it.
  const request = item(pageB.getByRole('main'), `Match with ${a.name}`);
  await request.getByText(`${a.name} asks: film each other?`).waitFor({ timeout: T });
  await shot(pageB, 'journey-request-received');
  await request.getByRole('button', { name: 'Accept' }).click();
  await request.getByRole('link', { name: 'Open chat' }).click();
  await pageB.getByRole('heading', { level: 1, name: a.name }).waitFor({ timeout: T });
  const matchPath = new URL(pageB.url()).pathname;
  assert.match(matchPath, /^\/matches\/\d+$/);

  // A's participants list follows live; A opens the match from there.
  await rowB.getByRole('link', { name: /Chat/ }).click();
  await pageA.getByRole('heading', { level: 1, name: b.name }).waitFor({ timeout: T });
  assert.equal(new URL(pageA.url()).pathname, matchPath);
  for (const page of [pageA, pageB]) {
    await page.getByRole('region', { name: 'Video transfer' }).waitFor({ timeout: T });
  }

  // 7. Private chat, live both ways; a link is shown as a link.
  const privA = `Great, see you at the floor (${Date.now()})`;
  await pageA.getByLabel('Message', { exact: true }).fill(privA);
  await pageA.getByRole('button', { name: 'Send', exact: true }).click();
  await pageB.getByRole('list', { name: 'Messages' }).getByText(privA).waitFor({ timeout: T });
  const link = `https://example.com/videos/heat-3?from=${b.username}`;
  await pageB.getByLabel('Message', { exact: true }).fill(link);
  await pageB.getByRole('button', { name: 'Send', exact: true }).click();
  const anchor = pageA.getByRole('list', { name: 'Messages' }).getByRole('link', { name: link });
  await anchor.waitFor({ timeout: T });
  assert.equal(await anchor.getAttribute('href'), link);
  assert.match(await anchor.getAttribute('rel'), /noopener/);
  await shot(pageA, 'journey-private-chat');

  // 8. A sends B a 50 MB video over WebRTC; the receiver's copy hashes the same.
  const { path: filePath, sha256 } = await file;
  await sendFile({ sender: pageA, receiver: pageB, filePath, sha256, shot });
  await shot(pageB, 'journey-transfer-done');

  // 9. A marks the match completed; B sees it live.
  await pageA.getByRole('button', { name: 'Mark completed' }).click();
  for (const page of [pageA, pageB]) {
    await page.getByRole('main').getByText('Completed', { exact: true }).first().waitFor({ timeout: T });
  }
  await shot(pageA, 'journey-completed');

  // 10. Both rate each other.
  const rate = async (page, partner, stars, comment) => {
    await page.getByRole('link', { name: `Rate ${partner.name}` }).click();
    await page.getByRole('heading', { level: 1, name: `Rate ${partner.name}` }).waitFor({ timeout: T });
    await page.getByRole('radio', { name: new RegExp(`^${stars} star`) }).check();
    await page.getByLabel('Comment (optional)').fill(comment);
    await page.getByRole('button', { name: 'Submit rating' }).click();
    await page.getByText(`You gave ${partner.name} ${stars} out of 5.`).waitFor({ timeout: T });
  };
  const commentA = `Filmed every heat, thank you ${b.username}`;
  const commentB = `Steady hands, ${a.username}`;
  await rate(pageA, b, 5, commentA);
  await shot(pageA, 'journey-rated');
  await rate(pageB, a, 4, commentB);
  // The report form is on the same page (the moderators get it).
  await pageB.getByRole('button', { name: 'Report abuse' }).click();
  await pageB.getByLabel('Reason').selectOption('other');
  await pageB.getByLabel('What happened? (optional)').fill('Only testing the report form.');
  await pageB.getByRole('button', { name: 'Send report' }).click();
  await pageB.getByText(`Your report about ${a.name} was sent to the moderators.`).waitFor({ timeout: T });
  await shot(pageB, 'journey-report-sent');

  // 11. Both see the match and the ratings in their history.
  const history = async (page, partner, given, received) => {
    await page.getByRole('link', { name: 'History', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'History' }).waitFor({ timeout: T });
    const matches = page.getByRole('region', { name: 'Matches' });
    await matches.getByRole('link', { name: partner.name }).waitFor({ timeout: T });
    await matches.getByText('Completed').first().waitFor({ timeout: T });
    await page.getByRole('region', { name: 'Ratings given' }).getByText(given).waitFor({ timeout: T });
    await page.getByRole('region', { name: 'Ratings received' }).getByText(received).waitFor({ timeout: T });
  };
  await history(pageA, b, commentA, commentB);
  await history(pageB, a, commentB, commentA);
  await shot(pageA, 'journey-history-a');
  await shot(pageB, 'journey-history-b');

  // 12. A opens B's public profile: B's rating stats count A's rating.
  await pageA.goto(url(`/users/${b.username}`));
  const stats = pageA.getByRole('region', { name: 'Rating stats' });
  await stats.getByText('5.0 ★').waitFor({ timeout: T });
  await pageA.getByRole('region', { name: 'Ratings received' }).getByText(commentA).waitFor({ timeout: T });
  await shot(pageA, 'journey-partner-profile');

  assert.deepEqual(problems, []);
  await ctxA.close();
  await ctxB.close();
});
