// transfer.bench.mjs: the PWA's WebRTC video transfer in headless Chromium
// over loopback (issue 5), beside the raw DataChannel ceiling in the same
// run, plus the gzip size of the production app shell.
//
// Each user is a phone of its own: a Chromium of its own (A sends, B
// receives) with its own on-disk profile (launchPersistent in
// tests/e2e/browser.mjs), as a phone keeps OPFS on disk; an incognito
// context would keep it in the browser process's memory, which costs that
// process CPU a phone does not spend, and two contexts of one Chromium
// would share its browser and network processes. Both runs below use the
// same two browsers.
//
//  (a) raw: a page in A and one in B on the gateway's origin, SDP
//      relayed between them by this process (page.evaluate returns the
//      offer from A and takes it into B, the answer back likewise), one
//      ordered reliable channel, 256 KiB chunks of one buffer with the
//      same backpressure as the app (bufferedAmountLowThreshold 4 MiB,
//      refill to 8 MiB); timed from the first send to the last byte
//      received. No hashing, no file, no UI.
//  (b) app: two users (registered, joined to an event and matched through
//      the REST API), logged in through the UI, A's as the sender and B's
//      as the receiver, both on the match page; a 200 MB random file
//      chosen, sent, accepted, streamed to OPFS (on disk, in B's profile)
//      with the SHA-256 computed on both sides as the bytes go, checked on
//      arrival, then saved through the download link and hashed again
//      here. Timed by the app (from the accept to the sender holding the
//      verdict: it includes hashing and the check) and by the wall clock
//      (from the "Accept" click to "SHA-256 verified" showing).
//  Prints MB/s (10^6 bytes/s) and MiB/s of both, the ratio (goal >= 80%),
//  the Chromium CPU seconds of each run (all processes of both browsers)
//  and where they went, thread by thread (tx/rx: the sending and receiving
//  pages' renderers; A.browser, B.NetworkService, A.gpu-process...: each
//  browser's own shared processes, A the sender's and B the receiver's; a
//  worker's thread is counted though it ends with its transfer, up to its
//  last 200 ms sample) and, thread by thread, what each app run spent over
//  the raw run before it, the app's CPU per byte over the raw channel's (on
//  a machine whose cores are all busy, throughput goes as its inverse, and
//  outside load biases it less than the MB/s ratio), the RSS of the
//  sender's and receiver's renderers before and at the peak
//  of (b) (the receiver must not hold the file in memory), and the app
//  shell's gzip size (goal < 150 KB: frontend/dist/index.html plus the JS
//  and CSS it loads).
//
// Needs the suite started by tests/bench/run.sh (SC_TEST_GATEWAY_URL),
// frontend/dist built, and playwright-core in tests/e2e/node_modules;
// skips with a message without them. Knobs: SC_BENCH_TRANSFER_MB (200),
// SC_BENCH_TRANSFER_BROWSERS: 2 (the default: a Chromium per user, as
// above) or 1 (one Chromium, one incognito context per user: OPFS in the
// browser process's memory, one network process for both; the setting the
// issue's raw ceiling was measured in). SC_BENCH_TRANSFER_RUNS (raw and
// app each run this many times, 2,
// alternating; the best of each is compared, and each app run with the raw
// run before it: run-to-run noise is about 20% here).
// Generated files and both browsers' profiles go to a folder under /tmp,
// removed at the end.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync,
  readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const DIST = path.join(REPO, 'frontend', 'dist');
const E2E = path.join(REPO, 'tests', 'e2e');

const MB = 1e6;
const MiB = 1024 * 1024;
const SIZE_MB = Number(process.env.SC_BENCH_TRANSFER_MB ?? 200);
const RUNS = Math.max(1, Number(process.env.SC_BENCH_TRANSFER_RUNS ?? 2));
const ONE_BROWSER = process.env.SC_BENCH_TRANSFER_BROWSERS === '1';
const BYTES = Math.round(SIZE_MB * MB);
const CHUNK = 256 * 1024;
const LOW = 4 * MiB;
const HIGH = 8 * MiB;
const GOAL_RATIO = 0.8;
const GOAL_SHELL_KB = 150;
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux

const say = (s) => console.log(`transfer bench: ${s}`);
const f1 = (x) => x.toFixed(1);

function skip(why) {
	say(`skipped: ${why}`);
	process.exit(0);
}

/* ---- the app shell's size ------------------------------------------------ */

// index.html and the scripts, module preloads and stylesheets it names,
// each gzipped (level 9, as a static gzip would) and summed.
function shellSize() {
	const html = readFileSync(path.join(DIST, 'index.html'), 'utf8');
	const refs = new Set();
	for (const m of html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)) {
		refs.add(m[1]);
	}
	for (const m of html.matchAll(/<link\b[^>]*>/g)) {
		const tag = m[0];
		const rel = /\brel="([^"]+)"/.exec(tag)?.[1] ?? '';
		const href = /\bhref="([^"]+)"/.exec(tag)?.[1];
		if (href && /\b(stylesheet|modulepreload)\b/.test(rel)) {
			refs.add(href);
		}
	}
	const files = [{ name: 'index.html', body: Buffer.from(html) }];
	for (const ref of refs) {
		if (/^[a-z]+:/i.test(ref)) {
			continue;
		}
		const file = path.join(DIST, ref.replace(/^\//, ''));
		files.push({ name: ref, body: readFileSync(file) });
	}
	let raw = 0;
	let gz = 0;
	const rows = files.map((f) => {
		const g = gzipSync(f.body, { level: 9 }).length;
		raw += f.body.length;
		gz += g;
		return `${f.name} ${f1(f.body.length / 1000)} kB (gzip ${f1(g / 1000)} kB)`;
	});
	return { raw, gz, rows };
}

/* ---- Chromium's processes ---------------------------------------------------- */

// The browsers' root processes (children of this one): pid -> 'A' | 'B',
// filled in by main() as it launches them.
const BROWSERS = new Map();

// Every process under this one (both Chromiums' trees, here): Map pid ->
// the pid of its ancestor that is a child of this process.
function tree() {
	const byParent = new Map();
	for (const d of readdirSync('/proc')) {
		if (!/^\d+$/.test(d)) {
			continue;
		}
		try {
			const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
			const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2)
				.split(' ')[1]);
			if (!byParent.has(ppid)) {
				byParent.set(ppid, []);
			}
			byParent.get(ppid).push(Number(d));
		} catch {
			// gone
		}
	}
	const out = new Map();
	const walk = (p, top) => {
		for (const c of byParent.get(p) ?? []) {
			out.set(c, top ?? c);
			walk(c, top ?? c);
		}
	};
	walk(process.pid, null);
	return out;
}

// The processes under this one.
function descendants() {
	return [...tree().keys()];
}

// The direct children of this process.
function children() {
	return new Set(tree().values());
}

// CPU seconds (user + system) used so far by every process under this one
// that is still alive, by pid.
function cpuTimes() {
	const out = new Map();
	for (const pid of descendants()) {
		try {
			const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
			const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			// fields 14 and 15 (utime, stime) are at 11 and 12 here
			out.set(pid, (Number(f[11]) + Number(f[12])) / CLK_TCK);
		} catch {
			// gone
		}
	}
	return out;
}

// CPU seconds Chromium spent between two cpuTimes() (processes that ended
// in between are not counted: none do during a run).
function cpuSpent(before, after) {
	let s = 0;
	for (const [pid, t] of after) {
		s += t - (before.get(pid) ?? 0);
	}
	return s;
}

// CPU seconds per thread of every Chromium process under this one (both
// browsers): Map "pid/tid" -> {pid, name (the thread's, e.g.
// CrRendererMain, DedicatedWorker), type (the process's --type, 'browser'
// without one, prefixed with its browser: 'A.browser', 'B.renderer'),
// cpu}.
function threadTimes() {
	const out = new Map();
	for (const [pid, top] of tree()) {
		const which = BROWSERS.get(top) ?? '?';
		let type = 'browser';
		try {
			const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
			type = /--type=([a-z-]+)/.exec(cmd)?.[1] ?? 'browser';
			if (type === 'utility') {
				type = /--utility-sub-type=[a-z_]+\.mojom\.([A-Za-z]+)/
					.exec(cmd)?.[1] ?? type;
			}
			for (const tid of readdirSync(`/proc/${pid}/task`)) {
				try {
					const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
					const name = stat.slice(stat.indexOf('(') + 1,
						stat.lastIndexOf(')'));
					const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
					out.set(`${pid}/${tid}`, { pid, name,
						type: `${which}.${type}`,
						cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK });
				} catch {
					// gone
				}
			}
		} catch {
			// gone
		}
	}
	return out;
}

// threadTimes() sampled every 200 ms until stop(), which returns the last
// value seen of every thread (a worker's thread ends with its transfer).
function threadSampler() {
	const seen = threadTimes();
	const sample = () => {
		for (const [k, t] of threadTimes()) {
			seen.set(k, t);
		}
	};
	const timer = setInterval(sample, 200);
	return {
		stop() {
			clearInterval(timer);
			sample();
			return seen;
		},
	};
}

// Where the CPU went between two threadTimes(): "role:thread s" for the
// largest, the renderers named by `roles` (Map pid -> 'tx'|'rx'), threads
// of one name summed (e.g. the ThreadPool workers).
function cpuBreakdown(before, after, roles, top = 40) {
	const sums = cpuSums(before, after, roles);
	return [...sums].sort((a, b) => b[1] - a[1]).slice(0, top)
		.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
}

// The sums behind cpuBreakdown(): Map "role:thread" -> CPU seconds.
function cpuSums(before, after, roles) {
	const sums = new Map();
	for (const [k, t] of after) {
		const d = t.cpu - (before.get(k)?.cpu ?? 0);
		if (d <= 0) {
			continue;
		}
		const who = roles.get(t.pid) ?? t.type;
		const name = t.name.replace(/\d+$/, '#').replace(/^ThreadPool.*/,
			'ThreadPool');
		const key = `${who}:${name}`;
		sums.set(key, (sums.get(key) ?? 0) + d);
	}
	return sums;
}

// Where an app run spent more (or less) than the raw run before it:
// "role:thread +s" for differences of 0.1 s or more, largest first.
function cpuOverRaw(app, raw) {
	const keys = new Set([...app.keys(), ...raw.keys()]);
	return [...keys].map((k) => [k, (app.get(k) ?? 0) - (raw.get(k) ?? 0)])
		.filter(([, d]) => Math.abs(d) >= 0.1).sort((a, b) => b[1] - a[1])
		.map(([k, d]) => `${k} ${d > 0 ? '+' : ''}${d.toFixed(1)}`).join(', ');
}

/* ---- Chromium's memory ------------------------------------------------------ */

// Chromium renderer processes under this one: Map pid -> RSS bytes.
function renderers() {
	const out = new Map();
	for (const pid of descendants()) {
		try {
			const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
			if (!cmd.includes('--type=renderer')) {
				continue;
			}
			const m = /VmRSS:\s+(\d+) kB/.exec(
				readFileSync(`/proc/${pid}/status`, 'utf8'));
			if (m) {
				out.set(pid, Number(m[1]) * 1024);
			}
		} catch {
			// gone
		}
	}
	return out;
}

// The renderer process hosting `page`, as [pid]: its main thread is kept
// busy for half a second and the renderer whose CPU time grew most is it.
// (A browser with an on-disk profile keeps a spare renderer ready and
// hands it to the next tab, starting a new spare: the renderers that
// appear when a tab opens are not the tab's.)
// (Tried up to three times: another tab still settling can blur it.)
async function rendererOf(page) {
	for (let attempt = 1; ; attempt += 1) {
		try {
			return await rendererOnce(page);
		} catch (e) {
			if (attempt >= 3) {
				throw e;
			}
		}
	}
}

async function rendererOnce(page) {
	const times = () => {
		const cpu = cpuTimes();
		return new Map([...renderers().keys()].map((p) => [p, cpu.get(p)]));
	};
	const before = times();
	await page.evaluate(() => {
		const t = performance.now();
		while (performance.now() - t < 500) {
			// busy
		}
	});
	const grew = [...times()].filter(([p]) => before.has(p))
		.map(([p, t]) => [p, t - before.get(p)]).sort((a, b) => b[1] - a[1]);
	if (grew.length === 0 || grew[0][1] < 0.05 ||
		(grew.length > 1 && grew[1][1] > grew[0][1] / 2)) {
		throw new Error(`cannot tell the renderer of ${page.url()}: ` +
			grew.map(([p, t]) => `${p} +${t.toFixed(2)} s`).join(', '));
	}
	return [grew[0][0]];
}

// Peak RSS (bytes) of each renderer, sampled every 100 ms until stop().
function rssSampler() {
	const start = renderers();
	const peak = new Map(start);
	const sample = () => {
		for (const [pid, rss] of renderers()) {
			peak.set(pid, Math.max(peak.get(pid) ?? 0, rss));
		}
	};
	const timer = setInterval(sample, 100);
	return {
		stop() {
			clearInterval(timer);
			sample();
			return { start, peak };
		},
	};
}

/* ---- (a) the raw DataChannel ------------------------------------------------ */

// `phones`: the two browsers' contexts, [A (sends), B (receives)].
async function rawRun(phones, url) {
	const roles = new Map();
	const pages = [];
	for (const [i, c] of phones.entries()) {
		const p = await c.newPage();
		pages.push(p);
		// A static file of the gateway: its origin, none of the app's code.
		await p.goto(url('/manifest.webmanifest'));
		for (const pid of await rendererOf(p)) {
			roles.set(pid, i === 0 ? 'tx' : 'rx');
		}
	}
	const [tx, rx] = pages;
	try {
		// Receiver: answers, counts bytes, notes the time of the last.
		const offer = await tx.evaluate(async () => {
			const pc = new RTCPeerConnection({ iceServers: [] });
			const dc = pc.createDataChannel('raw', { ordered: true });
			dc.binaryType = 'arraybuffer';
			window.raw = { pc, dc };
			window.raw.open = new Promise((r) => { dc.onopen = r; });
			await pc.setLocalDescription(await pc.createOffer());
			await new Promise((r) => {
				if (pc.iceGatheringState === 'complete') {
					r();
				}
				pc.onicegatheringstatechange = () =>
					pc.iceGatheringState === 'complete' && r();
			});
			return pc.localDescription.toJSON();
		});
		const answer = await rx.evaluate(async ({ offer, total }) => {
			const pc = new RTCPeerConnection({ iceServers: [] });
			window.raw = { pc };
			window.raw.done = new Promise((resolve) => {
				pc.ondatachannel = (e) => {
					const dc = e.channel;
					dc.binaryType = 'arraybuffer';
					let got = 0;
					dc.onmessage = (ev) => {
						got += ev.data.byteLength;
						if (got >= total) {
							resolve({ got,
								t1: performance.timeOrigin + performance.now() });
						}
					};
				};
			});
			await pc.setRemoteDescription(offer);
			await pc.setLocalDescription(await pc.createAnswer());
			await new Promise((r) => {
				if (pc.iceGatheringState === 'complete') {
					r();
				}
				pc.onicegatheringstatechange = () =>
					pc.iceGatheringState === 'complete' && r();
			});
			return pc.localDescription.toJSON();
		}, { offer, total: BYTES });
		const cpu0 = cpuTimes();
		const threads0 = threadTimes();
		const sampler = threadSampler();
		const started = await tx.evaluate(async ({ answer, total, chunk, low,
			high }) => {
			const { pc, dc } = window.raw;
			await pc.setRemoteDescription(answer);
			await window.raw.open;
			const max = pc.sctp.maxMessageSize;
			const size = Math.min(chunk, max);
			const buf = new Uint8Array(size);
			crypto.getRandomValues(buf.subarray(0, 65536));
			dc.bufferedAmountLowThreshold = low;
			const t0 = performance.timeOrigin + performance.now();
			let sent = 0;
			let peak = 0;
			window.raw.sending = (async () => {
				while (sent < total) {
					const n = Math.min(size, total - sent);
					while (dc.bufferedAmount + n > high) {
						await new Promise((r) => {
							dc.onbufferedamountlow = r;
						});
					}
					dc.send(n === size ? buf : buf.subarray(0, n));
					sent += n;
					peak = Math.max(peak, dc.bufferedAmount);
				}
				return peak;
			})();
			return { t0, max };
		}, { answer, total: BYTES, chunk: CHUNK, low: LOW, high: HIGH });
		const done = await rx.evaluate(() => window.raw.done);
		const cpu = cpuSpent(cpu0, cpuTimes());
		const threads1 = sampler.stop();
		const threads = cpuBreakdown(threads0, threads1, roles);
		const sums = cpuSums(threads0, threads1, roles);
		const peak = await tx.evaluate(() => window.raw.sending);
		const s = (done.t1 - started.t0) / 1000;
		return { seconds: s, bps: done.got / s, maxMessageSize: started.max,
			peakBuffered: peak, cpu, threads, sums };
	} finally {
		await Promise.all(pages.map((p) => p.close()));
	}
}

/* ---- (b) the app ------------------------------------------------------------ */

async function randomFile(dir, name, bytes) {
	const file = path.join(dir, name);
	const hash = createHash('sha256');
	const out = createWriteStream(file);
	for (let left = bytes; left > 0;) {
		const chunk = randomBytes(Math.min(left, 4 * MiB));
		hash.update(chunk);
		left -= chunk.length;
		if (!out.write(chunk)) {
			await new Promise((r) => out.once('drain', r));
		}
	}
	await new Promise((res, rej) => out.end((e) => (e ? rej(e) : res())));
	return { file, sha256: hash.digest('hex') };
}

async function sha256File(file) {
	const h = createHash('sha256');
	for await (const c of createReadStream(file, { highWaterMark: 4 * MiB })) {
		h.update(c);
	}
	return h.digest('hex');
}

// `phones` as for rawRun: A's page sends, B's receives.
async function appSetup(phones, m) {
	const a = await m.steps.apiUser('bencha');
	const b = await m.steps.apiUser('benchb');
	const event = await m.steps.firstUpcomingEvent(a.token);
	for (const u of [a, b]) {
		const j = await m.steps.api('POST', `/api/events/${event.id}/join`,
			{ token: u.token });
		if (j.status !== 200) {
			throw new Error(`join: ${JSON.stringify(j.body)}`);
		}
	}
	const req = await m.steps.api('POST', '/api/matches', { token: a.token,
		body: { targetUserId: b.id, eventId: event.id } });
	if (req.status !== 201) {
		throw new Error(`match request: ${JSON.stringify(req.body)}`);
	}
	const id = req.body.match.id;
	const acc = await m.steps.api('PATCH', `/api/matches/${id}`,
		{ token: b.token, body: { status: 'accepted' } });
	if (acc.status !== 200) {
		throw new Error(`accept: ${JSON.stringify(acc.body)}`);
	}
	const pages = [];
	const pids = [];
	for (const [i, u] of [a, b].entries()) {
		const page = await phones[i].newPage();
		await m.steps.loginViaUI(page, u);
		await page.getByRole('heading', { level: 1, name: 'Events' })
			.waitFor({ timeout: m.steps.T });
		await page.goto(m.browser.url(`/matches/${id}`));
		await m.transfer.panel(page).getByLabel('Video file')
			.waitFor({ timeout: m.steps.T });
		pages.push(page);
		pids.push(await rendererOf(page));
	}
	return { sender: pages[0], receiver: pages[1],
		senderPids: pids[0], receiverPids: pids[1] };
}

async function appRun(setup, m, file, sha256) {
	const { sender, receiver } = setup;
	const { panel, offerFile, transferMs } = m.transfer;
	const r = panel(receiver);
	const s = panel(sender);
	const save = r.getByRole('link', { name: 'Save video', exact: true });
	const before = (await save.count()) > 0 ? await save.getAttribute('href') :
		null;
	// The app reads, hashes and writes in a worker where it can.
	let workers = 0;
	const countWorker = () => {
		workers += 1;
	};
	sender.on('worker', countWorker);
	receiver.on('worker', countWorker);
	const mem = rssSampler();
	const { accept } = await offerFile(sender, receiver, file);
	const cpu0 = cpuTimes();
	const threads0 = threadTimes();
	const sampler = threadSampler();
	const t0 = Date.now();
	await accept.click();
	const deadline = t0 + transferMs(BYTES);
	// Look for the end with one plain DOM query per page every 250 ms:
	// Playwright's role locators compute ARIA roles and names over the
	// whole page, which cost both renderers' main threads a visible share
	// of the CPU this bench compares (the raw run pays none), and the app
	// times itself (data-duration-ms) anyway.
	const look = () => {
		const p = document.querySelector('section[aria-label="Video transfer"]');
		return { href: p?.querySelector('a[download]')?.getAttribute('href') ??
			null, alert: p?.querySelector('[role="alert"]')?.textContent ?? null };
	};
	for (;;) {
		const rx = await receiver.evaluate(look);
		if (rx.href !== null && rx.href !== before) {
			break;
		}
		const alert = rx.alert ?? (await sender.evaluate(look)).alert;
		if (alert !== null) {
			throw new Error(`the transfer failed: ${alert}`);
		}
		if (Date.now() > deadline) {
			throw new Error('the transfer did not finish in time');
		}
		await receiver.waitForTimeout(250);
	}
	const wall = (Date.now() - t0) / 1000;
	const cpu = cpuSpent(cpu0, cpuTimes());
	const roles = new Map([...setup.senderPids.map((p) => [p, 'tx']),
		...setup.receiverPids.map((p) => [p, 'rx'])]);
	const threads1 = sampler.stop();
	const threads = cpuBreakdown(threads0, threads1, roles);
	const sums = cpuSums(threads0, threads1, roles);
	const { start, peak } = mem.stop();
	const role = (pids) => ({
		start: Math.max(0, ...pids.map((p) => start.get(p) ?? 0)),
		peak: Math.max(0, ...pids.map((p) => peak.get(p) ?? 0)),
	});
	const memory = { sender: role(setup.senderPids),
		receiver: role(setup.receiverPids),
		largest: Math.max(0, ...peak.values()) };
	sender.off('worker', countWorker);
	receiver.off('worker', countWorker);
	// The sender's own account of the time from the accept to the verdict.
	const sent = s.getByText(/^Sent — SHA-256 verified by/);
	await sent.waitFor({ timeout: 10000 });
	const secs = Number(await s.locator('[data-duration-ms]').first()
		.getAttribute('data-duration-ms')) / 1000;
	const storage = await r.locator('[data-storage]').first()
		.getAttribute('data-storage');
	if (!(await r.getByText('SHA-256 verified', { exact: true }).isVisible())) {
		throw new Error('the receiver does not show "SHA-256 verified"');
	}
	const [download] = await Promise.all([
		receiver.waitForEvent('download', { timeout: 60000 }),
		save.click(),
	]);
	const saved = await download.path();
	const ok = statSync(saved).size === BYTES &&
		await sha256File(saved) === sha256;
	await download.delete().catch(() => {});
	if (!ok) {
		throw new Error('the saved file does not hash to the SHA-256 sent');
	}
	return { appSeconds: secs, wallSeconds: wall, storage, memory, workers,
		cpu, threads, sums };
}

/* ---- main ------------------------------------------------------------------- */

async function main() {
	if (!process.env.SC_TEST_GATEWAY_URL) {
		skip('SC_TEST_GATEWAY_URL is not set: run it through tests/bench/run.sh');
	}
	if (!existsSync(path.join(DIST, 'index.html'))) {
		skip('frontend/dist is not built (cd frontend && npx vite build)');
	}
	if (!existsSync(path.join(E2E, 'node_modules', 'playwright-core'))) {
		skip('playwright-core is not installed in tests/e2e ' +
			'(cd tests/e2e && npm ci)');
	}
	if (!existsSync(process.env.SC_TEST_CHROMIUM ?? '/usr/bin/chromium')) {
		skip('no Chromium at /usr/bin/chromium');
	}
	const m = {
		browser: await import('../e2e/browser.mjs'),
		steps: await import('../e2e/app-steps.mjs'),
		transfer: await import('../e2e/transfer-steps.mjs'),
	};

	const shell = shellSize();
	say(`app shell: ${shell.rows.join(', ')}`);

	const tmp = mkdtempSync(path.join(tmpdir(), 'sc-transfer-bench-'));
	// One browser per user, launched one after the other to tell their
	// process trees apart.
	const phones = [];
	let single = null; // SC_BENCH_TRANSFER_BROWSERS=1: the one browser
	try {
		if (ONE_BROWSER) {
			const before = children();
			single = await m.browser.launch();
			for (const pid of children()) {
				if (!before.has(pid)) {
					BROWSERS.set(pid, 'A');
				}
			}
			phones.push(await m.browser.newContext(single),
				await m.browser.newContext(single));
		}
		for (const which of ONE_BROWSER ? [] : ['A', 'B']) {
			const before = children();
			phones.push(await m.browser.launchPersistent(
				path.join(tmp, `profile-${which.toLowerCase()}`)));
			for (const pid of children()) {
				if (!before.has(pid)) {
					BROWSERS.set(pid, which);
				}
			}
		}
		say(`${SIZE_MB} MB (${f1(BYTES / MiB)} MiB), ${RUNS} run(s) each, ` +
			(ONE_BROWSER
				? 'one headless Chromium (an incognito context per user)'
				: 'two headless Chromiums (one per user, each with its own ' +
					'on-disk profile)') +
			` over loopback; chunks ${CHUNK / 1024} KiB, ` +
			`low ${LOW / MiB} MiB, high ${HIGH / MiB} MiB`);
		const t = Date.now();
		const { file, sha256 } = await randomFile(tmp, 'bench-heat.mp4', BYTES);
		say(`generated ${path.basename(file)} in ${Date.now() - t} ms`);
		const setup = await appSetup(phones, m);
		// Raw and app runs alternate, so a change of load on the machine
		// hits both alike.
		const raws = [];
		const apps = [];
		const mib = (b) => `${Math.round(b / MiB)} MiB`;
		for (let i = 0; i < RUNS; i += 1) {
			const r = await rawRun(phones, m.browser.url);
			raws.push(r);
			say(`raw run ${i + 1}: ${f1(r.bps / MB)} MB/s (${f1(r.bps / MiB)} ` +
				`MiB/s) in ${r.seconds.toFixed(2)} s; maxMessageSize ` +
				`${r.maxMessageSize}, peak bufferedAmount ` +
				`${f1(r.peakBuffered / MiB)} MiB; Chromium CPU ` +
				`${f1(r.cpu)} s (${f1(r.cpu / (BYTES / 100 / MB))} s per 100 MB)`);
			say(`  CPU s by thread: ${r.threads}`);
			const a = await appRun(setup, m, file, sha256);
			apps.push(a);
			const bps = BYTES / a.appSeconds;
			say(`app run ${i + 1}: ${f1(bps / MB)} MB/s (${f1(bps / MiB)} ` +
				`MiB/s) in ${a.appSeconds.toFixed(2)} s by the app, ` +
				`${a.wallSeconds.toFixed(2)} s from the Accept click to ` +
				`"SHA-256 verified"; received into ${a.storage}, ` +
				`${a.workers} worker(s); SHA-256 of the saved file checked; ` +
				`Chromium CPU ${f1(a.cpu)} s (${f1(a.cpu / (BYTES / 100 / MB))} s ` +
				'per 100 MB)');
			say(`  CPU s by thread: ${a.threads}`);
			say(`  CPU s over raw run ${i + 1}: ${cpuOverRaw(a.sums, r.sums)}`);
			say(`  renderer RSS, before -> peak: receiver ` +
				`${mib(a.memory.receiver.start)} -> ${mib(a.memory.receiver.peak)}, ` +
				`sender ${mib(a.memory.sender.start)} -> ` +
				`${mib(a.memory.sender.peak)}`);
		}
		await Promise.all([setup.sender.close(), setup.receiver.close()]);

		const raw = Math.max(...raws.map((r) => r.bps));
		const app = Math.max(...apps.map((r) => BYTES / r.appSeconds));
		const ratio = app / raw;
		const cpuRaw = Math.min(...raws.map((r) => r.cpu));
		const cpuApp = Math.min(...apps.map((r) => r.cpu));
		const rxGrowth = Math.max(...apps.map((r) =>
			r.memory.receiver.peak - r.memory.receiver.start));
		console.log('');
		say(`raw DataChannel: ${f1(raw / MB)} MB/s (${f1(raw / MiB)} MiB/s), ` +
			`best of ${RUNS}`);
		say(`app transfer:    ${f1(app / MB)} MB/s (${f1(app / MiB)} MiB/s), ` +
			`best of ${RUNS}, SHA-256 on both sides`);
		say(`ratio app/raw:   ${f1(ratio * 100)}% (goal >= ${GOAL_RATIO * 100}%)` +
			`${ratio >= GOAL_RATIO ? '' : '  BELOW GOAL'}; run by run: ` +
			apps.map((a, i) => `${f1(BYTES / a.appSeconds / raws[i].bps * 100)}%`)
				.join(', '));
		say(`CPU per byte:    the app uses ${f1(cpuApp / cpuRaw)}x the raw ` +
			`channel's Chromium CPU seconds (least of each: ${f1(cpuApp)} s vs ` +
			`${f1(cpuRaw)} s; run by run: ` +
			apps.map((a, i) => `${(a.cpu / raws[i].cpu).toFixed(2)}x`).join(', ') +
			`): on a machine whose cores are all busy, ` +
			`throughput goes as its inverse, ${f1(cpuRaw / cpuApp * 100)}%`);
		say(`receiver's renderer grew by at most ` +
			`${Math.round(rxGrowth / MiB)} MiB RSS for a ` +
			`${Math.round(BYTES / MiB)} MiB file (received into ` +
			`${[...new Set(apps.map((a) => a.storage))].join(', ')})`);
		say(`app shell gzip:  ${f1(shell.gz / 1000)} kB (raw ` +
			`${f1(shell.raw / 1000)} kB; goal < ${GOAL_SHELL_KB} KB)` +
			`${shell.gz / 1000 < GOAL_SHELL_KB ? '' : '  OVER GOAL'}`);
	} finally {
		await Promise.all(phones.map((p) => p.close().catch(() => {})));
		await single?.close().catch(() => {});
		rmSync(tmp, { recursive: true, force: true });
	}
}

main().catch((e) => {
	console.error(`transfer bench: FAILED: ${e.stack ?? e}`);
	process.exit(1);
});
