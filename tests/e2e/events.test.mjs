// tests/e2e/events.test.mjs: the events list in the browser: upcoming
// first, the past tab, search by name or location (nothing found says so),
// the cursor's "Load more", and an event's page with its participants.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, apiUser, firstUpcomingEvent, loginViaUI, T } from './app-steps.mjs';
import { launch, newContext, shot } from './browser.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('events: upcoming and past, search, load more', async () => {
  const user = await apiUser('browse');
  await firstUpcomingEvent(user.token); // imports one once the seed is past
  const upcoming = await api('GET', '/api/events?limit=100', { token: user.token });
  const past = await api('GET', '/api/events?when=past&limit=100', { token: user.token });
  // The seed's events are dated: which are upcoming depends on today.
  const ups = upcoming.body.items;
  assert.ok(ups.length > 0, 'no upcoming events');
  assert.ok(past.body.items.length > 0, 'the seed has past events');

  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  await loginViaUI(page, user);
  await page.getByRole('heading', { level: 1, name: 'Events' }).waitFor({ timeout: T });

  // Upcoming, soonest first, twenty at a time.
  const list = page.getByRole('list', { name: 'Upcoming events' });
  await list.getByRole('link', { name: ups[0].name }).first().waitFor({ timeout: T });
  assert.equal(await list.getByRole('listitem').count(), Math.min(20, ups.length));
  assert.equal((await list.getByRole('link').first().innerText()).trim(), ups[0].name);
  if (ups.length > 20) {
    await page.getByRole('button', { name: 'Load more' }).click();
    await list.getByRole('listitem').nth(20).waitFor({ timeout: T });
    assert.equal(await list.getByRole('listitem').count(), Math.min(40, ups.length));
    assert.equal((await list.getByRole('link').nth(20).innerText()).trim(), ups[20].name);
  } else {
    assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0);
  }

  // Past, most recent first.
  await page.getByRole('button', { name: 'Past' }).click();
  const pastList = page.getByRole('list', { name: 'Past events' });
  await pastList.getByRole('link', { name: past.body.items[0].name, exact: true }).first().waitFor({ timeout: T });
  assert.equal(await page.getByRole('button', { name: 'Past' }).getAttribute('aria-pressed'), 'true');

  // Search by location, back on the upcoming tab.
  await page.getByRole('button', { name: 'Upcoming' }).click();
  const target = ups[Math.min(3, ups.length - 1)];
  const place = target.location.split(',')[0];
  await page.getByRole('searchbox', { name: 'Search events' }).fill(place);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await list.getByRole('link', { name: target.name, exact: true }).waitFor({ timeout: T });
  const shown = await list.getByRole('listitem').allInnerTexts();
  assert.ok(shown.length >= 1 && shown.every((t) => t.toLowerCase().includes(place.toLowerCase())), `every result mentions ${place}`);
  await shot(page, 'events-search');

  await page.getByRole('searchbox', { name: 'Search events' }).fill('no such event anywhere');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByText('No upcoming events match “no such event anywhere”.').waitFor({ timeout: T });

  // An event's page, joined: the user is among the participants.
  await page.getByRole('searchbox', { name: 'Search events' }).fill('');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await list.getByRole('link', { name: target.name, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: target.name }).waitFor({ timeout: T });
  await page.getByRole('button', { name: "I'm at this event" }).click();
  await page.getByRole('list', { name: 'Participants' }).getByRole('listitem', { name: user.name }).waitFor({ timeout: T });
  await shot(page, 'events-event-joined');
  await page.getByRole('button', { name: 'Leave event' }).click();
  await page.getByRole('button', { name: "I'm at this event" }).waitFor({ timeout: T });
  await ctx.close();
});
