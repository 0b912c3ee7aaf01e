// tests/e2e/account.test.mjs: the account screens on the real mail outbox:
// the verification link from the mail verifies the address; forgot and
// reset password through the mailed link, then the new password logs in;
// the profile is edited and shows on the public profile; tabs share one
// session without tripping the refresh-token reuse check. Needs the mail
// folder of a suite from tests/lib/suite.sh (SC_TEST_MAIL_DIR).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loginViaUI, newUser, registerViaUI, T } from './app-steps.mjs';
import { launch, newContext, shot, url } from './browser.mjs';

const mailDir = process.env.SC_TEST_MAIL_DIR;
const skip = mailDir ? false : 'needs SC_TEST_MAIL_DIR (a suite from tests/lib/suite.sh)';

// The link (path and query) of the newest mail of `kind` to `to`, waiting
// for the auth daemon's delivery loop to write it.
async function mailLink(to, kind) {
  const deadline = Date.now() + T;
  for (;;) {
    const found = [];
    for (const f of await readdir(mailDir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const m = JSON.parse(await readFile(join(mailDir, f), 'utf8'));
        if (m.to === to && m.kind === kind) found.push(m);
      } catch {
        // being written
      }
    }
    if (found.length) {
      const m = found.sort((x, y) => y.id - x.id)[0];
      const u = new URL(m.link);
      return `${u.pathname}${u.search}`;
    }
    if (Date.now() > deadline) throw new Error(`no ${kind} mail to ${to} in ${mailDir}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('the link in the verification mail verifies the address', { skip }, async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  const user = newUser('verify');
  await registerViaUI(page, user);
  await page.getByRole('link', { name: 'Profile', exact: true }).click();
  await page.getByText('Your email address is not verified yet').waitFor({ timeout: T });
  const link = await mailLink(user.email, 'verify');
  assert.match(link, /^\/verify-email\?token=/);
  await page.goto(url(link));
  await page.getByText('your email address is verified').waitFor({ timeout: T });
  await shot(page, 'account-email-verified');
  // A used link says so, with the API's message.
  const again = await ctx.newPage();
  await again.goto(url(link));
  await again.getByRole('alert').waitFor({ timeout: T });
  await page.goto(url('/profile'));
  await page.getByRole('heading', { name: 'Edit profile' }).waitFor({ timeout: T });
  assert.equal(await page.getByText('Your email address is not verified yet').count(), 0);
  await ctx.close();
});

test('forgot password, reset through the mailed link, log in with the new one', { skip }, async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  const user = newUser('reset');
  await registerViaUI(page, user);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await page.getByLabel('Email').fill(user.email);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await page.getByText(`If an account uses ${user.email}`).waitFor({ timeout: T });
  const link = await mailLink(user.email, 'reset');
  await page.goto(url(link));
  const fresh = `${user.password}-new`;
  await page.getByLabel('New password', { exact: true }).fill(fresh);
  await page.getByLabel('Repeat the new password').fill(fresh);
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.getByText('Your password is changed').waitFor({ timeout: T });
  await shot(page, 'account-password-reset');
  await loginViaUI(page, { ...user, password: user.password });
  await page.getByRole('alert').waitFor({ timeout: T });
  await loginViaUI(page, { ...user, password: fresh });
  await page.getByRole('heading', { level: 1, name: 'Events' }).waitFor({ timeout: T });
  await ctx.close();
});

test('the profile is edited and shown to others; a bad avatar URL shows the API error', { skip }, async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  const user = newUser('prof');
  await registerViaUI(page, user);
  await page.getByRole('link', { name: 'Profile', exact: true }).click();
  await page.getByLabel('Avatar URL').fill('not a url');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.getByRole('alert').waitFor({ timeout: T });
  assert.match(await page.getByRole('alert').innerText(), /avatarUrl/);
  await page.getByLabel('Avatar URL').fill('');
  await page.getByLabel('Display name').fill('Zoë Westie');
  await page.getByLabel('WSDC ID').fill('12345');
  await page.getByLabel('Bio').fill('Novice, loves blues tempo.');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.getByText('Profile saved.').waitFor({ timeout: T });
  await page.getByRole('heading', { level: 1, name: 'Zoë Westie' }).waitFor({ timeout: T });
  await shot(page, 'account-profile-saved');

  const other = await (await newContext(browser)).newPage();
  await registerViaUI(other, newUser('viewer'));
  await other.goto(url(`/users/${user.username}`));
  await other.getByRole('heading', { level: 1, name: 'Zoë Westie' }).waitFor({ timeout: T });
  await other.getByText('WSDC #12345').waitFor({ timeout: T });
  await other.getByText('Novice, loves blues tempo.').waitFor({ timeout: T });
  await other.getByRole('region', { name: 'Rating stats' }).getByText('No ratings yet.').waitFor({ timeout: T });
  await shot(other, 'account-public-profile');
  await other.goto(url('/users/nobody_by_this_name'));
  await other.getByRole('heading', { level: 1, name: 'Dancer not found' }).waitFor({ timeout: T });
  await ctx.close();
});

test('tabs opened at once share the session without revoking it (refreshes are serialised)', async () => {
  const ctx = await newContext(browser);
  const first = await ctx.newPage();
  const user = newUser('tabs');
  await registerViaUI(first, user);
  // Four more tabs load at the same moment, each restoring the session
  // through the rotating refresh cookie.
  const tabs = await Promise.all([1, 2, 3, 4].map(() => ctx.newPage()));
  await Promise.all(tabs.map((p) => p.goto(url('/matches'))));
  for (const p of tabs) await p.getByRole('heading', { level: 1, name: 'Matches' }).waitFor({ timeout: T });
  // Had two refreshes used the same token, the family would be revoked and
  // a reload would land on the login page.
  await first.reload();
  await first.getByRole('heading', { level: 1, name: 'Events' }).waitFor({ timeout: T });
  // Logging out in one tab logs out the others.
  await tabs[0].getByRole('button', { name: 'Log out' }).click();
  await tabs[1].getByRole('heading', { level: 1, name: 'Log in' }).waitFor({ timeout: T });
  await ctx.close();
});
