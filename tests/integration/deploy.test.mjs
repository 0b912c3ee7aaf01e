// deploy.test.mjs: the deployment files (deploy/docker, deploy/compose.yaml,
// deploy/k8s, deploy/OPERATIONS.md) checked where there is neither a
// container engine nor a cluster. The key check: the SC_* variables compose
// and Kubernetes give each daemon are ones it reads (found in the C sources
// it is built from, and in its binary when built) and include every one
// whose default only works on one machine (loopback, relative paths, the
// bus). Also: structure, probes, non-root, the bus wired through service
// names, signaling's instances (StatefulSet, peers, the gateway's pinning)
// agreeing, kustomize output (kubectl's when installed, else resolved
// here), `nginx -t` on the container gateway config, the Dockerfiles' rules.
// Needs no running suite:
//   cd tests/integration && node --test deploy.test.mjs
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
	'../..');
const rel = (...p) => path.join(REPO, ...p);
const read = (p) => fs.readFileSync(rel(p), 'utf8');
const exists = (p) => fs.existsSync(rel(p));
const BUILD = path.resolve(REPO, process.env.SC_TEST_BUILD || 'build');
/* What the images ship: the plain build (make asan's binaries also link
 * the sanitizer runtimes). */
const RELEASE_BUILD = path.resolve(REPO, 'build');
const DAEMONS = ['auth', 'events', 'matchmaking', 'ratings', 'signaling'];
const UP = (s) => s.toUpperCase();

/* Variables whose default is not used as is in a container, yet need not be
 * set: why, for the reader of a failure. */
const INHERITED = {
	SC_SIO_ADDR: 'defaults to SC_HTTP_ADDR',
};
/* Needed but not settable on Kubernetes yet (deploy/OPERATIONS.md). */
const K8S_UNSETTABLE = {};

const tmpDirs = [];
function tmpdir(tag) {
	const d = fs.mkdtempSync(path.join(os.tmpdir(), `sc-deploy-${tag}-`));
	tmpDirs.push(d);
	return d;
}
after(() => {
	for (const d of tmpDirs) {
		fs.rmSync(d, { recursive: true, force: true });
	}
});

function have(cmd) {
	return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const sorted = (set) => [...set].sort();
function setDiff(a, b) {
	return sorted(new Set([...a].filter((x) => !b.has(x))));
}

// ---- what the suite says about itself --------------------------------------

/* deploy/local.sh's tables: HTTP ports, schemas, the Socket.IO port. */
const LOCAL = (() => {
	const s = read('deploy/local.sh');
	const assoc = (name) => {
		const m = s.match(new RegExp(`declare -A ${name}=\\(([^)]*)\\)`));
		assert.ok(m, `deploy/local.sh has no ${name} table`);
		return Object.fromEntries([...m[1].matchAll(/\[(\w+)\]=(\w+)/g)]
			.map((x) => [x[1], x[2]]));
	};
	const sio = s.match(/^SIO_PORT=(\d+)$/m);
	assert.ok(sio, 'deploy/local.sh has no SIO_PORT');
	const http = Object.fromEntries(Object.entries(assoc('HTTP_PORT'))
		.map(([k, v]) => [k, Number(v)]));
	return { http, schema: assoc('SCHEMA'), sio: Number(sio[1]) };
})();

/* The bus's default ports (common/bus.c): the documented ones. */
const BUS_PORT = (() => {
	const m = read('common/bus.c')
		.match(/bus_services\[\]\s*=\s*\{([\s\S]*?)\};/);
	assert.ok(m, 'common/bus.c has no bus_services table');
	return Object.fromEntries([...m[1].matchAll(/\{"(\w+)",\s*(\d+)\}/g)]
		.map((x) => [x[1], { REQ: Number(x[2]), PUB: Number(x[2]) + 1 }]));
})();

const SCHEMAS = fs.readdirSync(rel('migrations'), { withFileTypes: true })
	.filter((e) => e.isDirectory()).map((e) => e.name).sort();

// ---- what each program reads, from its sources -----------------------------

/* C text without comments (strings and characters kept whole, so a
 * "tcp://..." is not taken for a comment). */
function stripComments(src) {
	let out = '';
	for (let i = 0; i < src.length;) {
		const c = src[i];
		if (c === '"' || c === '\'') {
			let j = i + 1;
			while (j < src.length && src[j] !== c) {
				j += src[j] === '\\' ? 2 : 1;
			}
			out += src.slice(i, j + 1);
			i = j + 1;
		} else if (src.startsWith('/*', i)) {
			const j = src.indexOf('*/', i + 2);
			out += ' ';
			i = j < 0 ? src.length : j + 2;
		} else if (src.startsWith('//', i)) {
			const j = src.indexOf('\n', i);
			i = j < 0 ? src.length : j;
		} else {
			out += c;
			i++;
		}
	}
	return out;
}

/* The files a program is built from: its own .c files and, through each
 * #include "x.h", x.h and x.c (common/ is libsc.a, one module a file). */
function closure(entries) {
	const seen = new Set();
	const queue = [...entries];
	while (queue.length > 0) {
		const f = queue.pop();
		if (seen.has(f)) {
			continue;
		}
		seen.add(f);
		for (const m of read(f).matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
			for (const dir of [path.dirname(f), 'common']) {
				const h = path.join(dir, m[1]);
				if (exists(h)) {
					queue.push(h);
					const c = h.replace(/\.h$/, '.c');
					if (c !== h && exists(c)) {
						queue.push(c);
					}
					break;
				}
			}
		}
	}
	return sorted(seen);
}

const DEFAULT_RE = new RegExp(String.raw`sc_config_(?:str|file)\s*\(\s*` +
	String.raw`"(SC_[A-Z0-9_]+)"\s*,\s*((?:"(?:[^"\\]|\\.)*"\s*)+|` +
	String.raw`[A-Za-z_]\w*(?:(?:->|\.)\w+)*)`, 'g');

/* What the program built from `entries` reads: names (every "SC_..."
 * literal), defaults (of sc_config_str/file), the bus services it calls and
 * subscribes to, and whether it listens on the bus. */
function sourceFacts(entries) {
	const files = closure(entries);
	const names = new Set();
	const defaults = new Map();
	const busReq = new Set();
	const busPub = new Set();
	let listens = false;
	for (const f of files) {
		const t = stripComments(read(f));
		for (const m of t.matchAll(/"(SC_[A-Z0-9_]*[A-Z0-9])"/g)) {
			names.add(m[1]);
		}
		for (const m of t.matchAll(DEFAULT_RE)) {
			const d = m[2].startsWith('"')
				? { literal: [...m[2].matchAll(/"((?:[^"\\]|\\.)*)"/g)]
					.map((x) => x[1]).join('') }
				: { expr: m[2] };
			defaults.set(m[1], d);
		}
		// The bus's own definitions are not calls.
		if (/^common\/bus\.[ch]$/.test(f)) {
			continue;
		}
		for (const m of t.matchAll(
			/sc_bus_call\s*\([^;]*?"([a-z][a-z0-9_]*)\.[a-z0-9_.]+"/g)) {
			busReq.add(m[1]);
		}
		for (const m of t.matchAll(
			/sc_bus_subscribe\s*\(\s*[^,;]+,\s*"([a-z][a-z0-9_]*)"/g)) {
			busPub.add(m[1]);
		}
		if (/\bsc_bus_listen\s*\(/.test(t)) {
			listens = true;
		}
	}
	return { files, names, defaults, busReq, busPub, listens };
}

/* Every daemon's facts, plus the variables it reads (bus addresses
 * included) and those it needs set outside one machine. */
const FACTS = Object.fromEntries(DAEMONS.map((s) => {
	const entries = fs.readdirSync(rel('services', s))
		.filter((f) => f.endsWith('.c') && !f.endsWith('_test.c'))
		.map((f) => path.join('services', s, f));
	const f = sourceFacts(entries);
	const bus = new Set();
	if (f.listens) {
		bus.add(`SC_BUS_${UP(s)}_REQ`).add(`SC_BUS_${UP(s)}_PUB`);
	}
	for (const x of f.busReq) {
		bus.add(`SC_BUS_${UP(x)}_REQ`);
	}
	for (const x of f.busPub) {
		bus.add(`SC_BUS_${UP(x)}_PUB`);
	}
	const reads = new Set([...f.names, ...bus]);
	const required = new Set(bus);
	for (const [name, d] of f.defaults) {
		const local = d.expr !== undefined ? d.expr !== 'NULL'
			: /127\.0\.0\.1|localhost|^var\//.test(d.literal);
		if (local && !INHERITED[name]) {
			required.add(name);
		}
	}
	return [s, { ...f, bus, reads, required }];
}));

/* migrate reads SC_MIGRATE_DATABASE_URL and SC_DB_PASSWORD_<SCHEMA>. */
const MIGRATE = (() => {
	const f = sourceFacts(['common/cmd/migrate.c']);
	assert.ok(/"SC_DB_PASSWORD_%s"/.test(read('common/cmd/migrate.c')),
		'migrate no longer reads SC_DB_PASSWORD_<SCHEMA>: update this test');
	const passwords = SCHEMAS.map((x) => `SC_DB_PASSWORD_${UP(x)}`);
	return {
		reads: new Set([...f.names, ...passwords]),
		required: new Set(['SC_MIGRATE_DATABASE_URL', ...passwords]),
	};
})();

/* `set` (variable -> where it comes from) against what `who` reads and
 * needs; `exempt` maps needed variables that may be missing to a reason. */
function assertEnvMatches(who, set, reads, required, exempt = {}) {
	const names = new Set(set.keys());
	const unread = setDiff(names, reads);
	assert.deepEqual(unread, [], `${who} is given variables it never reads: ` +
		unread.map((n) => `${n} (${set.get(n)})`).join(', '));
	const missing = setDiff(required, names).filter((n) => !exempt[n]);
	assert.deepEqual(missing, [], `${who} is not given variables whose ` +
		`default only works on one machine: ${missing.join(', ')}`);
}

describe('what the daemons read (from their sources)', () => {
	test('the source scan finds each daemon\'s known variables', () => {
		for (const s of DAEMONS) {
			const f = FACTS[s];
			for (const n of ['SC_HTTP_ADDR', 'SC_HTTP_PORT', 'SC_DATABASE_URL',
				'SC_JWT_PUBLIC_KEY_FILE', 'SC_LOG_LEVEL', 'SC_TRUSTED_PROXIES']) {
				assert.ok(f.reads.has(n), `${s}: ${n} not found in ${f.files}`);
			}
			assert.ok(f.listens, `${s} binds no bus sockets?`);
		}
		assert.ok(FACTS.auth.reads.has('SC_JWT_PRIVATE_KEY_FILE'));
		assert.ok(!FACTS.events.reads.has('SC_JWT_PRIVATE_KEY_FILE'));
		assert.ok(FACTS.signaling.reads.has('SC_SIO_PORT'));
		assert.ok(FACTS.matchmaking.busReq.has('events'));
		assert.ok(FACTS.signaling.busPub.has('matchmaking'));
	});

	test('each built binary holds exactly the names found in its sources',
		(t) => {
			// Every "SC_..." literal of the tree: the names a binary may hold
			// (it also holds enum names from debug info; those are not
			// variables).
			const universe = new Set();
			for (const dir of ['common', 'common/cmd',
				...DAEMONS.map((s) => `services/${s}`)]) {
				for (const f of fs.readdirSync(rel(dir))) {
					if (f.endsWith('.c') || f.endsWith('.h')) {
						const t = stripComments(read(path.join(dir, f)));
						for (const m of t.matchAll(/"(SC_[A-Z0-9_]*[A-Z0-9])"/g)) {
							universe.add(m[1]);
						}
					}
				}
			}
			let checked = 0;
			for (const s of DAEMONS) {
				const bin = path.join(BUILD, s);
				if (!fs.existsSync(bin)) {
					continue;
				}
				const built = fs.statSync(bin).mtimeMs;
				const stale = FACTS[s].files.some((f) =>
					fs.statSync(rel(f)).mtimeMs > built);
				if (stale) {
					t.diagnostic(`${bin} is older than its sources: not compared`);
					continue;
				}
				const text = fs.readFileSync(bin).toString('latin1');
				const inBin = new Set([...text.matchAll(/SC_[A-Z0-9_]*[A-Z0-9]/g)]
					.map((m) => m[0]).filter((n) => universe.has(n)));
				assert.deepEqual(sorted(inBin), sorted(FACTS[s].names),
					`${s}: the names in ${bin} differ from its sources' ` +
					`(the include scan is wrong)`);
				checked++;
			}
			if (checked === 0) {
				t.skip(`no up-to-date binaries in ${BUILD}`);
			}
		});

	test('what each daemon reads against its README (diagnostics only)', (t) => {
		// README.md's common table plus the daemon's own.
		const section = (text) => {
			const m = text.match(/^## Configuration[^\n]*\n([\s\S]*?)(?=^## |$(?![\s\S]))/m);
			return m ? m[1] : '';
		};
		const common = section(read('README.md'));
		for (const s of DAEMONS) {
			const doc = common + section(read(`services/${s}/README.md`));
			// SC_BUS_* and SC_BUS_<SERVICE>_REQ are patterns, not names.
			const named = new Set([...doc.matchAll(/SC_[A-Z0-9_<>*]*[A-Z0-9*>]/g)]
				.map((m) => m[0]).filter((n) => !/[<*]/.test(n)));
			const busDoc = /SC_BUS_\*|SC_BUS_<SERVICE>/.test(doc);
			const undocumented = setDiff(FACTS[s].reads, named)
				.filter((n) => !(busDoc && /^SC_BUS_[A-Z]+_(REQ|PUB)$/.test(n)));
			const unread = setDiff(named, FACTS[s].reads);
			if (undocumented.length > 0) {
				t.diagnostic(`${s} reads, its README does not list: ` +
					undocumented.join(', '));
			}
			if (unread.length > 0) {
				t.diagnostic(`${s}'s README lists, ${s} never reads: ` +
					unread.join(', '));
			}
		}
	});
});

// ---- compose ---------------------------------------------------------------

function parseEnvFile(text) {
	const out = new Map();
	for (const line of text.split('\n')) {
		if (/^\s*(#|$)/.test(line)) {
			continue;
		}
		const m = line.match(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
		assert.ok(m, `not KEY=VALUE: '${line}'`);
		out.set(m[1], m[2]);
	}
	return out;
}

/* Compose's interpolation of one string with `vars`; records the names. */
function interpolate(str, vars, used) {
	return str.replace(
		/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
		(all, name, colon, op, arg, bare) => {
			if (all === '$$') {
				return '$';
			}
			const n = name ?? bare;
			used.add(n);
			const v = vars.get(n);
			const unset = v === undefined || (colon === ':' && v === '');
			if (op === '-') {
				return unset ? arg : v;
			}
			if (op === '?') {
				assert.ok(!unset, `compose: ${n} is required: ${arg}`);
			}
			return v ?? '';
		});
}

function deepMap(v, fn) {
	if (typeof v === 'string') {
		return fn(v);
	}
	if (Array.isArray(v)) {
		return v.map((x) => deepMap(x, fn));
	}
	if (v !== null && typeof v === 'object') {
		return Object.fromEntries(Object.entries(v)
			.map(([k, x]) => [k, deepMap(x, fn)]));
	}
	return v;
}

function composeEnv(svc) {
	const out = new Map();
	const e = svc.environment ?? {};
	const pairs = Array.isArray(e)
		? e.map((x) => [x.split('=')[0], x.slice(x.indexOf('=') + 1)])
		: Object.entries(e);
	for (const [k, v] of pairs) {
		out.set(k, v === null ? '' : String(v));
	}
	assert.equal(svc.env_file, undefined,
		'env_file would hand a service variables unchecked');
	return out;
}

const COMPOSE = (() => {
	const raw = YAML.parse(read('deploy/compose.yaml'),
		{ merge: true, uniqueKeys: true });
	const vars = parseEnvFile(read('deploy/compose.env'));
	const used = new Set();
	const doc = deepMap(raw, (s) => interpolate(s, vars, used));
	return { raw, doc, vars, used };
})();

/* host:port of a tcp:// URL. */
function tcpAddr(url) {
	const m = /^tcp:\/\/([^:/]+):(\d+)$/.exec(url ?? '');
	assert.ok(m, `not a tcp://host:port address: '${url}'`);
	return { host: m[1], port: Number(m[2]) };
}

/* Each daemon binds its own bus sockets on every address at the documented
 * port, and finds every other one at <name it is known by>:<that port>;
 * value(s, name) is what daemon s is given; host(d) names daemon d. */
function assertBusWiring(where, value, host) {
	for (const s of DAEMONS) {
		for (const name of FACTS[s].bus) {
			const [, svc, kind] = name.match(/^SC_BUS_([A-Z]+)_(REQ|PUB)$/);
			const d = svc.toLowerCase();
			assert.ok(BUS_PORT[d], `${name}: no such service`);
			const a = tcpAddr(value(s, name));
			assert.equal(a.port, BUS_PORT[d][kind],
				`${where}: ${s}'s ${name} is not the documented port`);
			assert.equal(a.host, d === s ? '0.0.0.0' : host(d),
				`${where}: ${s}'s ${name}`);
		}
	}
}

describe('deploy/compose.yaml', () => {
	const { doc, vars, used } = COMPOSE;
	const svcs = doc.services;

	test('interpolates only variables deploy/compose.env sets', () => {
		const unknown = setDiff(used, new Set(vars.keys()));
		assert.deepEqual(unknown, [], 'compose.yaml uses variables ' +
			'compose.env does not document');
		const unused = setDiff(new Set(vars.keys()), used);
		assert.deepEqual(unused, [], 'compose.env sets variables compose.yaml ' +
			'never uses');
	});

	test('runs PostgreSQL, the migrations, the seed, the daemons, the gateway',
		() => {
			assert.deepEqual(Object.keys(svcs).sort(), ['gateway', 'migrate',
				'postgres', 'seed', ...DAEMONS].sort());
			assert.match(svcs.postgres.image, /^postgres:15(\.|-|$)/);
			assert.ok(svcs.postgres.volumes.some((v) =>
				/^pgdata:\/var\/lib\/postgresql\/data$/.test(v)));
			assert.ok('pgdata' in doc.volumes, 'a named volume for the database');
			assert.ok(svcs.postgres.healthcheck.test.join(' ').includes('pg_isready'));
			assert.equal(svcs.migrate.depends_on.postgres.condition,
				'service_healthy');
			assert.deepEqual(svcs.seed.command, ['import',
				'/usr/share/spotlight/seed/events.json']);
			assert.equal(svcs.seed.depends_on.migrate.condition,
				'service_completed_successfully');
			for (const s of DAEMONS) {
				assert.equal(svcs[s].depends_on.migrate.condition,
					'service_completed_successfully', s);
				assert.equal(svcs.gateway.depends_on[s].condition,
					'service_healthy', `the gateway waits for ${s}`);
			}
		});

	test('builds each image from deploy/docker with its target', () => {
		for (const s of [...DAEMONS, 'migrate']) {
			assert.deepEqual(svcs[s].build, { context: '..',
				dockerfile: 'deploy/docker/Dockerfile', target: s }, s);
		}
		assert.equal(svcs.seed.image, svcs.events.image);
		assert.equal(svcs.gateway.build.dockerfile,
			'deploy/docker/gateway.Dockerfile');
	});

	test('gives each daemon exactly variables it reads, and all it needs',
		() => {
			for (const s of DAEMONS) {
				const env = composeEnv(svcs[s]);
				const from = new Map([...env.keys()].map((k) => [k, 'environment']));
				assertEnvMatches(`compose's ${s}`, from, FACTS[s].reads,
					FACTS[s].required);
			}
			const seed = composeEnv(svcs.seed);
			assertEnvMatches('compose\'s seed (events import)',
				new Map([...seed.keys()].map((k) => [k, 'environment'])),
				FACTS.events.reads, new Set(['SC_DATABASE_URL']));
			const mig = composeEnv(svcs.migrate);
			assertEnvMatches('compose\'s migrate',
				new Map([...mig.keys()].map((k) => [k, 'environment'])),
				MIGRATE.reads, MIGRATE.required);
		});

	test('wires the bus through the compose service names', () => {
		assertBusWiring('compose', (s, n) => composeEnv(svcs[s]).get(n),
			(d) => d);
	});

	test('listens where the gateway and the healthchecks look', () => {
		for (const s of DAEMONS) {
			const env = composeEnv(svcs[s]);
			assert.equal(env.get('SC_HTTP_ADDR'), '0.0.0.0', s);
			assert.equal(Number(env.get('SC_HTTP_PORT')), LOCAL.http[s], s);
			const hc = svcs[s].healthcheck.test.join(' ');
			assert.ok(hc.includes(`http://127.0.0.1:${LOCAL.http[s]}/ready`),
				`${s}'s healthcheck: ${hc}`);
		}
		assert.equal(Number(composeEnv(svcs.signaling).get('SC_SIO_PORT')),
			LOCAL.sio);
		assert.ok(svcs.gateway.ports.some((p) => /:8080$/.test(String(p))));
	});

	test('connects each daemon as its own role, with the password migrate set',
		() => {
			const mig = composeEnv(svcs.migrate);
			const admin = new URL(mig.get('SC_MIGRATE_DATABASE_URL'));
			assert.equal(admin.hostname, 'postgres');
			assert.equal(decodeURIComponent(admin.password),
				svcs.postgres.environment.POSTGRES_PASSWORD);
			for (const s of DAEMONS) {
				const schema = LOCAL.schema[s];
				const u = new URL(composeEnv(svcs[s]).get('SC_DATABASE_URL'));
				assert.equal(u.username, `sc_${schema}`, s);
				assert.equal(u.hostname, 'postgres', s);
				assert.equal(u.pathname, '/spotlight', s);
				assert.equal(decodeURIComponent(u.password),
					mig.get(`SC_DB_PASSWORD_${UP(schema)}`),
					`${s}'s password is the one migrate gives sc_${schema}`);
			}
			assert.equal(new URL(composeEnv(svcs.seed).get('SC_DATABASE_URL'))
				.username, 'sc_events');
		});

	test('trusts X-Real-IP from the gateway\'s fixed address only', () => {
		const net = doc.networks.spotlight.ipam.config[0];
		const gw = svcs.gateway.networks.spotlight.ipv4_address;
		const ips = new Set();
		for (const s of ['gateway', 'postgres', ...DAEMONS]) {
			const ip = svcs[s].networks.spotlight.ipv4_address;
			assert.ok(ip.startsWith(net.subnet.replace(/0\/24$/, '')),
				`${s}'s ${ip} is in ${net.subnet}`);
			const last = Number(ip.split('.').pop());
			assert.ok(last > 1 && last < 128,
				`${s}'s ${ip} is outside the dynamic range ${net.ip_range}`);
			assert.ok(!ips.has(ip), `${ip} given twice`);
			ips.add(ip);
		}
		for (const s of DAEMONS) {
			assert.equal(composeEnv(svcs[s]).get('SC_TRUSTED_PROXIES'), gw, s);
		}
	});

	test('gives the private key to auth alone, the public key to all', () => {
		for (const s of DAEMONS) {
			const env = composeEnv(svcs[s]);
			assert.ok(svcs[s].secrets.includes('jwt_public'), s);
			assert.equal(env.get('SC_JWT_PUBLIC_KEY_FILE'),
				'/run/secrets/jwt_public', s);
			assert.equal(svcs[s].secrets.includes('jwt_private'), s === 'auth',
				`${s} and jwt_private`);
		}
		assert.equal(composeEnv(svcs.auth).get('SC_JWT_PRIVATE_KEY_FILE'),
			'/run/secrets/jwt_private');
		assert.match(doc.secrets.jwt_private.file, /jwt\.key$/);
		assert.match(doc.secrets.jwt_public.file, /jwt\.pub$/);
		// The default key folder is never committed.
		assert.match(read('deploy/keys/.gitignore'), /^\*$/m);
	});

	test('runs read-only, unprivileged, with a writable mail outbox', () => {
		for (const s of [...DAEMONS, 'gateway', 'migrate', 'seed']) {
			assert.equal(svcs[s].read_only, true, s);
			assert.deepEqual(svcs[s].cap_drop, ['ALL'], s);
			assert.ok(svcs[s].user === undefined ||
				!/^(0|root)(:|$)/.test(String(svcs[s].user)), s);
		}
		const mail = composeEnv(svcs.auth).get('SC_MAIL_OUTBOX_DIR');
		assert.ok(svcs.auth.volumes.some((v) => v.endsWith(`:${mail}`)),
			'the outbox is a volume');
	});
});

// ---- Kubernetes ------------------------------------------------------------

/* A kustomize build done here: resources (files, folders), config map and
 * secret generators (envs, files, literals; create, merge, replace),
 * patches (strategic merge: maps merged, lists of named items merged by
 * name, other lists replaced), replicas, images, namespace. Names carry no
 * content hash. Enough for deploy/k8s; kubectl's own is compared with it
 * when installed. */
function parseKustomizeEnv(text) {
	const out = {};
	for (const line of text.split('\n')) {
		if (/^\s*(#|$)/.test(line)) {
			continue;
		}
		const i = line.indexOf('=');
		assert.ok(i > 0, `not KEY=VALUE: '${line}'`);
		out[line.slice(0, i)] = line.slice(i + 1);
	}
	return out;
}

function smpMerge(target, patch) {
	for (const [k, v] of Object.entries(patch)) {
		const t = target[k];
		if (Array.isArray(v) && Array.isArray(t) &&
			v.every((x) => x && typeof x === 'object' && 'name' in x)) {
			for (const item of v) {
				const old = t.find((x) => x.name === item.name);
				if (old) {
					smpMerge(old, item);
				} else {
					t.push(item);
				}
			}
		} else if (v && typeof v === 'object' && !Array.isArray(v) &&
			t && typeof t === 'object' && !Array.isArray(t)) {
			smpMerge(t, v);
		} else {
			target[k] = structuredClone(v);
		}
	}
}

/* What kustomize's replicas field scales (of the kinds used here). */
const SCALABLE = new Set(['Deployment', 'StatefulSet']);

function podSpecs(o) {
	if (o.kind === 'Deployment' || o.kind === 'Job' ||
		o.kind === 'StatefulSet' || o.kind === 'DaemonSet') {
		return [o.spec.template.spec];
	}
	return [];
}

function kustomizeHere(dir) {
	const k = YAML.parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'),
		'utf8'));
	const known = new Set(['apiVersion', 'kind', 'namespace', 'resources',
		'configMapGenerator', 'secretGenerator', 'patches', 'replicas',
		'images']);
	for (const key of Object.keys(k)) {
		assert.ok(known.has(key), `${dir}: '${key}' is not resolved by this ` +
			'test: extend kustomizeHere');
	}
	const objs = [];
	for (const r of k.resources ?? []) {
		const p = path.join(dir, r);
		if (fs.statSync(p).isDirectory()) {
			objs.push(...kustomizeHere(p));
		} else {
			for (const d of YAML.parseAllDocuments(fs.readFileSync(p, 'utf8'),
				{ uniqueKeys: true })) {
				assert.deepEqual(d.errors, [], `${p}: ${d.errors}`);
				const o = d.toJS();
				if (o) {
					objs.push(o);
				}
			}
		}
	}
	const generate = (kind, specs) => {
		for (const g of specs ?? []) {
			const data = {};
			for (const e of g.envs ?? []) {
				Object.assign(data, parseKustomizeEnv(
					fs.readFileSync(path.join(dir, e), 'utf8')));
			}
			for (const f of g.files ?? []) {
				const i = f.indexOf('=');
				const [key, file] = i > 0 ? [f.slice(0, i), f.slice(i + 1)]
					: [path.basename(f), f];
				data[key] = fs.readFileSync(path.join(dir, file), 'utf8');
			}
			for (const l of g.literals ?? []) {
				const i = l.indexOf('=');
				data[l.slice(0, i)] = l.slice(i + 1);
			}
			const enc = kind === 'Secret'
				? (v) => Buffer.from(v).toString('base64') : (v) => v;
			const encoded = Object.fromEntries(Object.entries(data)
				.map(([key, v]) => [key, enc(v)]));
			const old = objs.find((o) => o.kind === kind &&
				o.metadata.name === g.name);
			const behavior = g.behavior ?? 'create';
			if (behavior === 'create') {
				assert.ok(!old, `${dir}: ${kind} ${g.name} made twice`);
				objs.push({ apiVersion: 'v1', kind, metadata: { name: g.name },
					...(kind === 'Secret' ? { type: 'Opaque' } : {}),
					data: encoded });
			} else {
				assert.ok(old, `${dir}: ${behavior} of ${kind} ${g.name}, ` +
					'which no base makes');
				old.data = behavior === 'merge' ? { ...old.data, ...encoded }
					: encoded;
			}
		}
	};
	generate('ConfigMap', k.configMapGenerator);
	generate('Secret', k.secretGenerator);
	for (const p of k.patches ?? []) {
		assert.ok(p.path, `${dir}: only patches from files are resolved here`);
		const patch = YAML.parse(fs.readFileSync(path.join(dir, p.path), 'utf8'));
		const target = objs.find((o) => o.kind === patch.kind &&
			o.metadata.name === patch.metadata.name);
		assert.ok(target, `${dir}: ${p.path} patches nothing`);
		smpMerge(target, patch);
	}
	for (const r of k.replicas ?? []) {
		const d = objs.find((o) => SCALABLE.has(o.kind) &&
			o.metadata.name === r.name);
		assert.ok(d, `${dir}: replicas for ${r.name}, no such Deployment ` +
			'or StatefulSet');
		d.spec.replicas = r.count;
	}
	for (const im of k.images ?? []) {
		let hits = 0;
		for (const spec of objs.flatMap(podSpecs)) {
			for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
				const m = c.image.match(/^([^:@]+)(?::([^@]+))?$/);
				if (m && m[1] === im.name) {
					c.image = `${im.newName ?? im.name}:${im.newTag ?? m[2]}`;
					hits++;
				}
			}
		}
		assert.ok(hits > 0, `${dir}: image ${im.name} is used nowhere`);
	}
	if (k.namespace) {
		for (const o of objs) {
			if (o.kind !== 'Namespace') {
				o.metadata.namespace = k.namespace;
			}
		}
	}
	return objs;
}

/* kubectl's build, names without their content hash and Secrets decoded to
 * compare with kustomizeHere's; null without kubectl. */
function kustomizeKubectl(dir) {
	if (!have('kubectl')) {
		return null;
	}
	const out = execFileSync('kubectl', ['kustomize', dir],
		{ encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
	const objs = YAML.parseAllDocuments(out).map((d) => d.toJS())
		.filter(Boolean);
	// kubectl folds long base64 over lines: one canonical form.
	for (const o of objs) {
		if (o.kind === 'Secret') {
			for (const k of Object.keys(o.data ?? {})) {
				o.data[k] = Buffer.from(o.data[k], 'base64').toString('base64');
			}
		}
	}
	const rename = new Map();
	for (const o of objs) {
		const m = /^(.*)-[a-z0-9]{10}$/.exec(o.metadata.name);
		if ((o.kind === 'ConfigMap' || o.kind === 'Secret') && m) {
			rename.set(o.metadata.name, m[1]);
		}
	}
	return deepMap(objs, (s) => rename.get(s) ?? s);
}

function byKey(objs) {
	const m = new Map();
	for (const o of objs) {
		const key = `${o.kind}/${o.metadata.name}`;
		assert.ok(!m.has(key), `${key} twice`);
		m.set(key, o);
	}
	return m;
}

/* Base and overlay, built here (and by kubectl when installed). The
 * overlay needs its secrets/ files: made in a copy from the examples, with
 * a real key pair from deploy/docker/jwt-keys.sh. */
const K8S = (() => {
	const copy = tmpdir('k8s');
	fs.cpSync(rel('deploy/k8s'), path.join(copy, 'k8s'), { recursive: true });
	const secrets = path.join(copy, 'k8s/overlays/production/secrets');
	for (const f of fs.readdirSync(secrets)) {
		if (f.endsWith('.example')) {
			fs.copyFileSync(path.join(secrets, f),
				path.join(secrets, f.replace(/\.example$/, '')));
		}
	}
	execFileSync(rel('deploy/docker/jwt-keys.sh'), [secrets],
		{ stdio: 'ignore' });
	const build = (dir) => ({
		here: kustomizeHere(dir),
		kubectl: kustomizeKubectl(dir),
	});
	return {
		base: build(path.join(copy, 'k8s/base')),
		production: build(path.join(copy, 'k8s/overlays/production')),
		jwtPub: fs.readFileSync(path.join(secrets, 'jwt.pub'), 'utf8'),
	};
})();

function find(objs, kind, name) {
	return objs.find((o) => o.kind === kind && o.metadata.name === name);
}

/* A daemon's Deployment or StatefulSet. */
function workload(objs, name) {
	const w = objs.filter((o) => SCALABLE.has(o.kind) &&
		o.metadata.name === name);
	assert.equal(w.length, 1, `one Deployment or StatefulSet ${name}`);
	return w[0];
}

function b64(s) {
	return Buffer.from(s, 'base64').toString('utf8');
}

/* A container's environment: variable -> source, each set once; `pod`
 * ({name, namespace}) answers the downward API's fieldRef. */
function podEnv(objs, c, who, pod = {}) {
	const vars = new Map();
	const values = new Map();
	const add = (name, value, from) => {
		assert.ok(!vars.has(name), `${who}: ${name} set by both ` +
			`${vars.get(name)} and ${from}`);
		vars.set(name, from);
		values.set(name, value);
	};
	for (const ef of c.envFrom ?? []) {
		assert.equal(ef.prefix, undefined, `${who}: envFrom with a prefix`);
		const kind = ef.configMapRef ? 'ConfigMap' : 'Secret';
		const ref = ef.configMapRef ?? ef.secretRef;
		const o = find(objs, kind, ref.name);
		assert.ok(o, `${who}: envFrom ${kind} ${ref.name}, which is not made`);
		for (const [k, v] of Object.entries(o.data ?? {})) {
			add(k, kind === 'Secret' ? b64(v) : v, `${kind} ${ref.name}`);
		}
	}
	for (const e of c.env ?? []) {
		const field = e.valueFrom?.fieldRef?.fieldPath;
		if (field !== undefined) {
			const v = { 'metadata.name': pod.name,
				'metadata.namespace': pod.namespace }[field];
			assert.ok(v !== undefined, `${who}: ${e.name} from ${field}, ` +
				'which this test does not resolve');
			add(e.name, v, `env (${field})`);
			continue;
		}
		assert.ok(e.value !== undefined, `${who}: ${e.name} from elsewhere`);
		add(e.name, e.value, 'env');
	}
	return { vars, values };
}

/* The environment the daemon starts with when the container's command is
 * a shell wrapper (`/bin/sh -c '...; exec /usr/local/bin/<daemon>'`): the
 * script run here with `env` in the daemon's place; what it adds or
 * changes is the daemon's. Without a command: the environment as is. */
function wrapperEnv(c, daemon, env, who) {
	if (c.command === undefined) {
		assert.equal(c.args, undefined, `${who}: args without a command`);
		return env;
	}
	assert.equal(c.command.length, 3, `${who}: command ${c.command}`);
	assert.deepEqual(c.command.slice(0, 2), ['/bin/sh', '-c'], who);
	assert.equal(c.args, undefined, `${who}: args`);
	const script = c.command[2];
	// Kubernetes itself replaces $(NAME) in a command with a variable.
	assert.ok(!script.includes('$('), `${who}: $( in the command`);
	// The image's ENTRYPOINT (checked against the Dockerfile below).
	const target = `exec /usr/local/bin/${daemon}`;
	assert.equal(script.split(target).length, 2,
		`${who}: the script execs ${target} once`);
	const r = spawnSync('sh', ['-c', script.replace(target, 'exec env -0')], {
		encoding: 'utf8',
		env: { PATH: process.env.PATH, ...Object.fromEntries(env.values) },
	});
	assert.equal(r.status, 0, `${who}: the command fails: ${r.stderr}`);
	const vars = new Map(env.vars);
	const values = new Map(env.values);
	const shell = new Set(['PATH', 'PWD', 'OLDPWD', 'SHLVL', '_']);
	for (const kv of r.stdout.split('\0').filter(Boolean)) {
		const i = kv.indexOf('=');
		const [k, v] = [kv.slice(0, i), kv.slice(i + 1)];
		if (shell.has(k) || values.get(k) === v) {
			continue;
		}
		vars.set(k, 'the container\'s command');
		values.set(k, v);
	}
	return { vars, values };
}

/* The pods of a daemon's workload, each {name, vars, values}: a
 * StatefulSet's by ordinal, a Deployment's one (any is alike). */
function daemonPods(objs, s) {
	const w = workload(objs, s);
	const c = w.spec.template.spec.containers[0];
	const names = w.kind === 'StatefulSet'
		? Array.from({ length: w.spec.replicas ?? 1 },
			(_, i) => `${w.metadata.name}-${i}`)
		: [`${w.metadata.name}-7d4b9c8f6-x2x9q`];
	return names.map((name) => {
		const who = `${s} (pod ${name})`;
		const env = podEnv(objs, c, who,
			{ name, namespace: w.metadata.namespace });
		return { name, ...wrapperEnv(c, s, env, who) };
	});
}


function checkCluster(name, objs) {
	const svcPort = (svc, port) => {
		const s = find(objs, 'Service', svc);
		assert.ok(s, `no Service ${svc}`);
		const p = s.spec.ports.find((x) => x.port === port);
		assert.ok(p, `Service ${svc} has no port ${port}`);
		return p;
	};
	const containerPort = (c, portName) => {
		const p = c.ports.find((x) => x.name === portName);
		assert.ok(p, `${c.name} has no port named ${portName}`);
		return p.containerPort;
	};

	test(`${name}: a Deployment (signaling: a StatefulSet) and a Service ` +
		'per daemon, selectors matching', () => {
			for (const s of [...DAEMONS, 'gateway']) {
				const d = workload(objs, s);
				const svc = find(objs, 'Service', s);
				assert.equal(d.kind, s === 'signaling' ? 'StatefulSet'
					: 'Deployment', s);
				assert.ok(svc, `${s}: a Service`);
				const labels = d.spec.template.metadata.labels;
				for (const sel of [d.spec.selector.matchLabels, svc.spec.selector]) {
					for (const [k, v] of Object.entries(sel)) {
						assert.equal(labels[k], v, `${s}: selector ${k}`);
					}
				}
				assert.equal(d.metadata.namespace, 'spotlight', s);
			}
			assert.ok(find(objs, 'Namespace', 'spotlight'));
			assert.ok(find(objs, 'NetworkPolicy', 'daemons'));
		});

	test(`${name}: probes /health (liveness) and /ready (readiness) on the ` +
		'HTTP port', () => {
		for (const s of DAEMONS) {
			const c = workload(objs, s).spec.template.spec.containers[0];
			const http = containerPort(c, 'http');
			assert.equal(http, LOCAL.http[s], s);
			assert.equal(c.livenessProbe.httpGet.path, '/health', s);
			assert.equal(c.readinessProbe.httpGet.path, '/ready', s);
			for (const p of [c.livenessProbe, c.readinessProbe]) {
				const port = p.httpGet.port;
				assert.equal(typeof port === 'number' ? port
					: containerPort(c, port), http, `${s}'s probe port`);
			}
			svcPort(s, http);
		}
	});

	test(`${name}: non-root, read-only root, no privileges, resources bound`,
		() => {
			for (const o of objs) {
				for (const spec of podSpecs(o)) {
					const who = `${o.kind} ${o.metadata.name}`;
					const sc = spec.securityContext ?? {};
					assert.equal(sc.runAsNonRoot, true, who);
					assert.ok(sc.runAsUser > 0, `${who} runAsUser`);
					assert.equal(spec.automountServiceAccountToken, false, who);
					assert.equal(spec.enableServiceLinks, false, `${who}: ` +
						'service links would add variables');
					for (const c of spec.containers) {
						const csc = c.securityContext ?? {};
						assert.equal(csc.readOnlyRootFilesystem, true, who);
						assert.equal(csc.allowPrivilegeEscalation, false, who);
						assert.deepEqual(csc.capabilities?.drop, ['ALL'], who);
						for (const k of ['requests', 'limits']) {
							assert.ok(c.resources?.[k]?.cpu &&
								c.resources?.[k]?.memory, `${who}: ${k}`);
						}
					}
				}
			}
		});

	test(`${name}: each daemon is given exactly variables it reads, and ` +
		'all it needs', () => {
		for (const s of DAEMONS) {
			for (const pod of daemonPods(objs, s)) {
				assertEnvMatches(`Kubernetes' ${s} (pod ${pod.name})`, pod.vars,
					FACTS[s].reads, FACTS[s].required, K8S_UNSETTABLE);
			}
		}
		const jobs = {
			migrate: [MIGRATE.reads, MIGRATE.required],
			'events-seed': [FACTS.events.reads, new Set(['SC_DATABASE_URL'])],
		};
		for (const [j, [reads, required]] of Object.entries(jobs)) {
			const job = find(objs, 'Job', j);
			assert.ok(job, `Job ${j}`);
			const { vars } = podEnv(objs, job.spec.template.spec.containers[0], j);
			assertEnvMatches(`Kubernetes' ${j}`, vars, reads, required);
		}
	});

	test(`${name}: the bus is wired through the Services' DNS names`, () => {
		const first = Object.fromEntries(DAEMONS.map((s) => [s,
			daemonPods(objs, s)[0].values]));
		// Every pod of each daemon (a StatefulSet's differ).
		for (const s of DAEMONS) {
			for (const pod of daemonPods(objs, s)) {
				const env = { ...first, [s]: pod.values };
				assertBusWiring(`${name} (pod ${pod.name})`,
					(d, n) => env[d].get(n), (d) => d);
			}
		}
		for (const s of DAEMONS) {
			const w = workload(objs, s);
			const c = w.spec.template.spec.containers[0];
			const env = daemonPods(objs, s)[0].values;
			// A StatefulSet's pods publish on their own addresses, under
			// its headless Service; a Deployment's through its Service.
			const bus = w.kind === 'StatefulSet' ? w.spec.serviceName : s;
			for (const kind of ['REQ', 'PUB']) {
				const port = BUS_PORT[s][kind];
				assert.equal(containerPort(c, `bus-${kind.toLowerCase()}`), port, s);
				svcPort(bus, port);
			}
			assert.equal(env.get('SC_HTTP_ADDR'), '0.0.0.0', s);
			assert.equal(Number(env.get('SC_HTTP_PORT')), LOCAL.http[s], s);
		}
		assert.equal(Number(daemonPods(objs, 'signaling')[0].values
			.get('SC_SIO_PORT')), LOCAL.sio);
		svcPort('signaling', LOCAL.sio);
	});

	test(`${name}: the key pair from Secrets: the private key to auth only`,
		() => {
			for (const s of DAEMONS) {
				const spec = workload(objs, s).spec.template.spec;
				const c = spec.containers[0];
				const { values, vars } = daemonPods(objs, s)[0];
				const mounted = (varName, secret, key) => {
					const file = values.get(varName);
					const m = c.volumeMounts.find((v) =>
						path.dirname(file) === v.mountPath);
					assert.ok(m, `${s}: ${file} is on no volume`);
					const vol = spec.volumes.find((v) => v.name === m.name);
					assert.equal(vol.secret?.secretName, secret, s);
					assert.equal(path.basename(file), key, s);
					assert.ok(key in find(objs, 'Secret', secret).data, s);
				};
				mounted('SC_JWT_PUBLIC_KEY_FILE', 'jwt-public', 'jwt.pub');
				const hasPrivate = spec.volumes.some((v) =>
					v.secret?.secretName === 'jwt-private');
				assert.equal(hasPrivate, s === 'auth', `${s} and jwt-private`);
				if (s === 'auth') {
					mounted('SC_JWT_PRIVATE_KEY_FILE', 'jwt-private', 'jwt.key');
					const mail = values.get('SC_MAIL_OUTBOX_DIR');
					const m = c.volumeMounts.find((v) => v.mountPath === mail);
					assert.ok(m && !m.readOnly, 'a writable mail outbox');
				}
				const u = new URL(values.get('SC_DATABASE_URL'));
				assert.equal(u.username, `sc_${LOCAL.schema[s]}`, s);
				assert.equal(vars.get('SC_DATABASE_URL'),
					`Secret ${s}-secrets`, `${s}'s database URL is a Secret`);
			}
		});

	test(`${name}: the gateway routes to the Services; the Ingress to it`,
		() => {
			const c = find(objs, 'Deployment', 'gateway')
				.spec.template.spec.containers[0];
			const { values } = podEnv(objs, c, 'gateway');
			for (const s of DAEMONS.filter((x) => x !== 'signaling')) {
				const k = `GATEWAY_UPSTREAM_${UP(s)}`;
				assert.equal(values.get(k), `${s}:${LOCAL.http[s]}`, k);
				svcPort(s, LOCAL.http[s]);
			}
			// signaling's instances, one Service each (which pod each
			// names: the next test).
			for (const [k, port] of [
				['GATEWAY_UPSTREAM_SIGNALING', LOCAL.http.signaling],
				['GATEWAY_UPSTREAM_SIGNALING_SIO', LOCAL.sio]]) {
				assert.ok(values.get(k), k);
				for (const e of values.get(k).split(',')) {
					const [svc, p] = e.split(':');
					assert.equal(Number(p), port, `${k}: ${e}`);
					svcPort(svc, port);
				}
			}
			for (const k of values.keys()) {
				assert.match(k, /^GATEWAY_/, `the gateway reads no ${k}`);
			}
			assert.equal(c.livenessProbe.httpGet.path, '/');
			const ing = find(objs, 'Ingress', 'spotlight');
			const backends = ing.spec.rules.flatMap((r) => r.http.paths)
				.map((p) => p.backend.service);
			assert.ok(backends.length > 0);
			const gsvc = find(objs, 'Service', 'gateway');
			for (const b of backends) {
				assert.equal(b.name, 'gateway');
				assert.ok(gsvc.spec.ports.some((p) => p.name === b.port.name));
			}
		});

	/* signaling's instances: a StatefulSet whose replicas, peers
	 * (SC_SIGNALING_PEERS), session id prefixes and gateway upstreams name
	 * the same pods (services/signaling/README.md, "Scale-out"). */
	const signaling = () => {
		const sts = workload(objs, 'signaling');
		const c = sts.spec.template.spec.containers[0];
		const pods = daemonPods(objs, 'signaling');
		// A pod's labels: the template's and the StatefulSet's own.
		const labels = (pod, i) => ({ ...sts.spec.template.metadata.labels,
			'statefulset.kubernetes.io/pod-name': pod,
			'apps.kubernetes.io/pod-index': String(i) });
		const selected = (svc) => pods.map((p) => p.name).filter((p, i) =>
			Object.entries(svc.spec.selector ?? {}).every(([k, v]) =>
				labels(p, i)[k] === v));
		return { sts, c, pods, selected };
	};

	test(`${name}: signaling is a StatefulSet whose pods find each other ` +
		'through its headless Service', () => {
		const { sts, c, pods, selected } = signaling();
		assert.equal(sts.kind, 'StatefulSet');
		const n = sts.spec.replicas;
		assert.ok(Number.isInteger(n) && n >= 1, `replicas ${n}`);
		assert.equal(pods.length, n);
		assert.equal(sts.spec.updateStrategy?.type ?? 'RollingUpdate',
			'RollingUpdate');
		const peersSvc = find(objs, 'Service', sts.spec.serviceName);
		assert.ok(peersSvc, `the StatefulSet's Service ${sts.spec.serviceName}`);
		assert.equal(peersSvc.spec.clusterIP, 'None', 'a headless Service');
		assert.equal(peersSvc.spec.publishNotReadyAddresses, true,
			'peers are named while they start, before they are ready');
		assert.deepEqual(selected(peersSvc), pods.map((p) => p.name));
		const ns = sts.metadata.namespace;
		// signaling-<i>.signaling-peers[.<namespace>[.svc[.cluster.local]]]
		const podHost = new RegExp(`^(${sts.metadata.name}-\\d+)\\.` +
			`${sts.spec.serviceName}(?:\\.${ns}` +
			'(?:\\.svc(?:\\.cluster\\.local)?)?)?$');
		for (const pod of pods) {
			const v = pod.values;
			const who = `pod ${pod.name}`;
			assert.equal(v.get('SC_SIGNALING_INSTANCE'), pod.name, who);
			const own = tcpAddr(v.get('SC_BUS_SIGNALING_PUB'));
			assert.equal(own.host, '0.0.0.0', `${who} binds its own PUB`);
			assert.equal(containerPort(c, 'bus-pub'), own.port, who);
			svcPort(sts.spec.serviceName, own.port);
			const peers = (v.get('SC_SIGNALING_PEERS') ?? '').split(',')
				.map((x) => x.trim()).filter(Boolean);
			if (n === 1 && peers.length === 0) {
				continue; // one instance alone
			}
			assert.equal(peers.length, n, `${who}: one peer per replica: ` +
				`${peers.join(', ')}`);
			const named = peers.map((u) => {
				const a = tcpAddr(u);
				assert.equal(a.port, own.port, `${who}: ${u} is not a PUB port`);
				const m = podHost.exec(a.host);
				assert.ok(m, `${who}: ${u} names no pod of the StatefulSet ` +
					`under ${sts.spec.serviceName}`);
				return m[1];
			});
			assert.deepEqual(sorted(new Set(named)), sorted(pods.map((p) =>
				p.name)), `${who}: SC_SIGNALING_PEERS names each pod once`);
		}
	});

	test(`${name}: signaling's pods have distinct session id prefixes, ` +
		'each pinned to its pod by the gateway', () => {
		const { c, pods, selected } = signaling();
		const prefixes = pods.map((p) => p.values.get('SC_SIO_SID_PREFIX'));
		for (const [i, p] of prefixes.entries()) {
			assert.match(p ?? '', /^[A-Za-z0-9_-]{1,15}$/,
				`${pods[i].name}'s SC_SIO_SID_PREFIX`);
		}
		assert.equal(new Set(prefixes).size, pods.length,
			`distinct prefixes: ${prefixes.join(', ')}`);

		// The gateway's config as its image renders it from this
		// manifest's environment.
		const gw = find(objs, 'Deployment', 'gateway')
			.spec.template.spec.containers[0];
		const env = podEnv(objs, gw, 'gateway').values;
		for (const k of ['GATEWAY_UPSTREAM_SIGNALING',
			'GATEWAY_UPSTREAM_SIGNALING_SIO']) {
			assert.equal(env.get(k).split(',').length, pods.length,
				`${k} lists one upstream per replica`);
		}
		const r = renderGateway(Object.fromEntries(env));
		assert.equal(r.status, 0, r.stderr);
		const upstreams = new Map([...r.stdout.matchAll(
			/upstream\s+(\w+)\s*\{([^}]*)\}/g)].map((m) => [m[1],
			[...m[2].matchAll(/server\s+([^\s;]+)/g)].map((x) => x[1])]));
		const map = r.stdout.match(
			/map \$arg_sid \$signaling_sio_upstream \{([^}]*)\}/);
		assert.ok(map, 'the gateway has its sid map');
		const entries = [...map[1].matchAll(/^\s*("[^"]*"|\S+)\s+(\w+);/gm)]
			.map((m) => [m[1].replace(/^"(.*)"$/, '$1'), m[2]]);
		// nginx's map: exact strings first, then regexes in order.
		const route = (sid) => {
			const exact = entries.find(([k]) => k === sid);
			if (exact) {
				return exact[1];
			}
			for (const [k, u] of entries) {
				const m = /^~(\*?)(.*)$/.exec(k);
				if (m && new RegExp(m[2], m[1] ? 'i' : '').test(sid)) {
					return u;
				}
			}
			return entries.find(([k]) => k === 'default')[1];
		};
		// The pods an upstream's server (host:port) reaches: a Service
		// selecting them, its port the container's.
		const reaches = (server, portName) => {
			const [host, port] = server.split(':');
			const svc = find(objs, 'Service', host);
			assert.ok(svc, `gateway upstream ${server}: no Service ${host}`);
			const p = svc.spec.ports.find((x) => x.port === Number(port));
			assert.ok(p, `gateway upstream ${server}: no such port`);
			assert.equal(typeof p.targetPort === 'number' ? p.targetPort
				: containerPort(c, p.targetPort), containerPort(c, portName),
			`${server}: signaling's ${portName} port`);
			return selected(svc);
		};
		for (const [i, pod] of pods.entries()) {
			// Engine.IO: "<prefix>." and 20 characters of base64url.
			const sid = `${prefixes[i]}.AbCdEfGhIjKlMnOpQr-_`;
			const up = route(sid);
			const servers = upstreams.get(up);
			assert.equal(servers?.length, 1, `sid ${sid} goes to ${up}: ` +
				`${servers}, not one instance`);
			assert.deepEqual(reaches(servers[0], 'sio'), [pod.name],
				`sid ${sid} (${up}, ${servers[0]})`);
		}
		// New sessions and /api/chat: every pod, each through its own.
		for (const [up, portName] of [['signaling_sio', 'sio'],
			['signaling', 'http']]) {
			const each = upstreams.get(up).map((x) => reaches(x, portName));
			for (const [j, x] of each.entries()) {
				assert.equal(x.length, 1, `${up}'s ${upstreams.get(up)[j]} ` +
					`reaches ${x.length} pods`);
			}
			assert.deepEqual(sorted(each.flat()), sorted(pods.map((p) =>
				p.name)), `${up} reaches each pod once`);
		}
	});

	test(`${name}: signaling's command refuses a pod name without an ` +
		'ordinal', () => {
		const { sts, c } = signaling();
		for (const bad of ['signaling', 'signaling-x1']) {
			const env = podEnv(objs, c, bad, { name: bad,
				namespace: sts.metadata.namespace });
			assert.throws(() => wrapperEnv(c, 'signaling', env, bad),
				/the command fails/, bad);
		}
	});
}

describe('deploy/k8s', () => {
	for (const [name, b] of Object.entries({ base: K8S.base,
		production: K8S.production })) {
		checkCluster(name, b.here);
		test(`${name}: kubectl kustomize makes what this test resolves`, (t) => {
			if (b.kubectl === null) {
				t.skip('kubectl is not installed');
				return;
			}
			const ours = byKey(b.here);
			const theirs = byKey(b.kubectl);
			assert.deepEqual(sorted(new Set(theirs.keys())),
				sorted(new Set(ours.keys())));
			for (const [k, o] of ours) {
				assert.deepEqual(theirs.get(k), o, k);
			}
		});
		if (b.kubectl !== null) {
			describe(`${name} (kubectl's build)`, () => checkCluster(name,
				b.kubectl));
		}
	}

	test('the production overlay scales, pins images, replaces the Secrets',
		() => {
			const objs = K8S.production.here;
			const replicas = (s) => workload(objs, s).spec.replicas;
			assert.ok(replicas('auth') > 1);
			assert.ok(replicas('gateway') > 1);
			assert.ok(replicas('signaling') > workload(K8S.base.here,
				'signaling').spec.replicas, 'more signaling instances than ' +
				'the base (and the lists to match: checked above)');
			for (const o of objs) {
				for (const spec of podSpecs(o)) {
					for (const c of spec.containers) {
						assert.match(c.image, /^registry\.example\.com\/spotlight\/[a-z]+:1\.0\.0$/,
							`${o.metadata.name}'s image`);
					}
				}
			}
			assert.equal(b64(find(objs, 'Secret', 'jwt-public').data['jwt.pub']),
				K8S.jwtPub);
			for (const s of DAEMONS) {
				const url = b64(find(objs, 'Secret', `${s}-secrets`)
					.data.SC_DATABASE_URL);
				assert.doesNotMatch(url, /CHANGE-ME/, s);
			}
			const ing = find(objs, 'Ingress', 'spotlight');
			assert.ok(ing.spec.tls?.length > 0, 'TLS on the Ingress');
		});

	test('the base\'s signaling says how its instances are named, and ' +
		'where to read on', () => {
		const text = read('deploy/k8s/base/signaling.yaml');
		assert.match(text, /kind: StatefulSet/);
		for (const w of ['SC_SIGNALING_PEERS', 'GATEWAY_UPSTREAM_SIGNALING',
			'deploy/OPERATIONS.md', 'services/signaling/README.md']) {
			assert.ok(text.includes(w), `mentions ${w}`);
		}
	});

	test('real secrets are never committed', () => {
		const gi = read('deploy/k8s/overlays/production/secrets/.gitignore');
		assert.match(gi, /^\*$/m);
		assert.match(gi, /^!\*\.example$/m);
	});
});

// ---- Dockerfiles -----------------------------------------------------------

/* A Dockerfile's stages: {from, name, ins: [{ins, args}]} (continuations
 * joined, comments dropped). */
function parseDockerfile(text) {
	const lines = [];
	let cur = '';
	for (const raw of text.split('\n')) {
		const l = raw.replace(/\s+$/, '');
		if (/^\s*#/.test(l)) {
			continue;
		}
		if (l.endsWith('\\')) {
			cur += `${l.slice(0, -1)} `;
			continue;
		}
		cur += l;
		if (cur.trim() !== '') {
			lines.push(cur.trim().replace(/\s+/g, ' '));
		}
		cur = '';
	}
	const stages = [];
	for (const l of lines) {
		const [, ins, args] = l.match(/^(\S+)\s*(.*)$/);
		if (ins.toUpperCase() === 'FROM') {
			const f = args.match(/^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i);
			stages.push({ from: f[1], name: f[2], ins: [] });
		} else {
			assert.ok(stages.length > 0, `${ins} before FROM`);
			stages.at(-1).ins.push({ ins: ins.toUpperCase(), args });
		}
	}
	return stages;
}

/* The last `ins` of a stage, looking through the stages it is built on. */
function effective(stages, stage, ins) {
	for (let s = stage; s;) {
		const found = s.ins.filter((i) => i.ins === ins);
		if (found.length > 0) {
			return found.at(-1).args;
		}
		s = stages.find((x) => x.name === s.from);
	}
	return undefined;
}

function allOf(stages, stage, ins) {
	const out = [];
	for (let s = stage; s;) {
		out.push(...s.ins.filter((i) => i.ins === ins).map((i) => i.args));
		s = stages.find((x) => x.name === s.from);
	}
	return out;
}

function aptInstalls(stage) {
	const out = [];
	for (const i of stage.ins.filter((x) => x.ins === 'RUN')) {
		for (const m of i.args.matchAll(/apt-get install ([^&;|]*)/g)) {
			out.push(...m[1].split(/\s+/).filter((w) => w && !w.startsWith('-')));
		}
	}
	return out;
}

/* Whether a Docker ignore file keeps `p` (a path from the context root) in
 * the build context: the last pattern matching it or a parent decides. */
function keptByIgnore(rules, p) {
	const toRe = (pat) => new RegExp(`^${pat.replace(/\/+$/, '')
		.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000')
		.replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')
		.replace(/\u0000/g, '.*')}$`);
	const parts = p.split('/');
	let kept = true;
	for (const r of rules) {
		const neg = r.startsWith('!');
		const re = toRe(neg ? r.slice(1) : r);
		for (let i = 1; i <= parts.length; i++) {
			if (re.test(parts.slice(0, i).join('/'))) {
				kept = neg;
				break;
			}
		}
	}
	return kept;
}

function ignoreRules(file) {
	return read(file).split('\n').map((l) => l.trim())
		.filter((l) => l !== '' && !l.startsWith('#'));
}

const DOCKERFILE = parseDockerfile(read('deploy/docker/Dockerfile'));
const GATEWAY_DOCKERFILE = parseDockerfile(
	read('deploy/docker/gateway.Dockerfile'));

describe('deploy/docker', () => {
	const stage = (stages, name) => {
		const s = stages.find((x) => x.name === name);
		assert.ok(s, `no stage ${name}`);
		return s;
	};

	test('every stage is built on Debian bookworm', () => {
		for (const [file, stages] of [['Dockerfile', DOCKERFILE],
			['gateway.Dockerfile', GATEWAY_DOCKERFILE]]) {
			for (const s of stages) {
				const parent = stages.some((x) => x.name === s.from);
				assert.ok(parent || /bookworm/.test(s.from),
					`${file}: ${s.name} FROM ${s.from}`);
			}
		}
		assert.equal(stage(DOCKERFILE, 'build').from, 'debian:bookworm');
		assert.equal(stage(DOCKERFILE, 'runtime').from, 'debian:bookworm-slim');
		assert.equal(stage(GATEWAY_DOCKERFILE, 'gateway').from,
			'debian:bookworm-slim');
	});

	test('each image runs as a non-root user, with a health check', () => {
		const targets = [...DAEMONS.map((s) => [DOCKERFILE, s]),
			[DOCKERFILE, 'migrate'], [GATEWAY_DOCKERFILE, 'gateway']];
		for (const [stages, name] of targets) {
			const s = stage(stages, name);
			const user = effective(stages, s, 'USER');
			assert.ok(user, `${name}: no USER`);
			assert.doesNotMatch(user, /^(0|root)(:|$)/, `${name}: USER ${user}`);
			assert.match(user, /^[1-9]\d*:[1-9]\d*$/,
				`${name}: a numeric uid:gid, so runAsNonRoot can check it`);
			const hc = effective(stages, s, 'HEALTHCHECK');
			assert.ok(hc, `${name}: no HEALTHCHECK`);
			if (DAEMONS.includes(name)) {
				assert.ok(hc.includes(`\${SC_HTTP_PORT:-${LOCAL.http[name]}}/health`),
					`${name}: HEALTHCHECK ${hc}`);
				const exposed = allOf(stages, s, 'EXPOSE').join(' ').split(' ')
					.map(Number);
				for (const p of [LOCAL.http[name], BUS_PORT[name].REQ,
					BUS_PORT[name].PUB]) {
					assert.ok(exposed.includes(p), `${name}: EXPOSE ${p}`);
				}
				assert.equal(effective(stages, s, 'ENTRYPOINT'),
					`["/usr/local/bin/${name}"]`);
			} else if (name === 'migrate') {
				assert.equal(hc, 'NONE', 'migrate is a job');
			} else {
				assert.match(hc, /CMD curl .*\/"/);
				assert.ok(allOf(stages, s, 'EXPOSE').includes('8080'));
			}
		}
		const sio = allOf(DOCKERFILE, stage(DOCKERFILE, 'signaling'), 'EXPOSE');
		assert.ok(sio.join(' ').split(' ').includes(String(LOCAL.sio)));
	});

	test('no SC_* variable is baked into an image', () => {
		for (const stages of [DOCKERFILE, GATEWAY_DOCKERFILE]) {
			for (const s of stages) {
				for (const e of s.ins.filter((i) => i.ins === 'ENV')) {
					assert.doesNotMatch(e.args, /\bSC_/, `${s.name}: ENV ${e.args}`);
				}
			}
		}
	});

	test('the build stage has every -dev package deploy/deps.sh names and ' +
		'builds every daemon and migrate', () => {
		const deps = read('deploy/deps.sh').match(/packages=\(([\s\S]*?)\n\)/);
		assert.ok(deps, 'deploy/deps.sh has no packages list');
		const dev = [...deps[1].matchAll(/\b(lib[a-z0-9.+-]*-dev)\b/g)]
			.map((m) => m[1]).filter((p) => p !== 'libclang-rt-dev');
		const build = stage(DOCKERFILE, 'build');
		const have = new Set(aptInstalls(build));
		for (const p of dev) {
			assert.ok(have.has(p), `the build stage lacks ${p}`);
		}
		const make = build.ins.find((i) => i.ins === 'RUN' &&
			/\bmake\b/.test(i.args)).args;
		for (const t of [...DAEMONS, 'migrate']) {
			assert.match(make, new RegExp(`\\bbuild/${t}\\b`));
		}
	});

	test('the runtime stage has the package of every library the daemons ' +
		'link, and no -dev package', (t) => {
		const runtime = new Set(aptInstalls(stage(DOCKERFILE, 'runtime')));
		for (const p of runtime) {
			assert.doesNotMatch(p, /-dev$/);
		}
		for (const p of ['libevent-2.1-7', 'libpq5', 'libjson-c5', 'libjwt0',
			'libargon2-1', 'libnng1', 'libwslay1', 'libssl3', 'curl']) {
			assert.ok(runtime.has(p), `runtime lacks ${p}`);
		}
		if (!have('readelf') || !have('dpkg')) {
			t.skip('no readelf or dpkg to read the binaries\' libraries');
			return;
		}
		const bins = [...DAEMONS, 'migrate']
			.map((b) => path.join(RELEASE_BUILD, b))
			.filter((b) => fs.existsSync(b));
		if (bins.length === 0) {
			t.skip(`nothing built in ${RELEASE_BUILD}`);
			return;
		}
		const needed = new Set();
		for (const b of bins) {
			const out = execFileSync('readelf', ['-d', b], { encoding: 'utf8' });
			for (const m of out.matchAll(/\(NEEDED\).*\[(.+)\]/g)) {
				needed.add(m[1]);
			}
		}
		// Each library's file (ldconfig's cache) and the package whose file
		// list holds it (one grep over dpkg's lists: dpkg -S with patterns
		// takes seconds). Debian 12 has merged /usr: a list may name either.
		const ldconfig = fs.existsSync('/sbin/ldconfig') ? '/sbin/ldconfig'
			: 'ldconfig';
		const cache = execFileSync(ldconfig, ['-p'], { encoding: 'utf8' });
		const files = new Map();
		for (const lib of needed) {
			const name = lib.replace(/[.+]/g, '\\$&');
			// The native one first (a 32-bit copy may be cached too).
			const m = cache.match(new RegExp(
				`^\\s+${name} \\([^)]*x86-64[^)]*\\) => (\\S+)$`, 'm')) ??
				cache.match(new RegExp(`^\\s+${name} .*=> (\\S+)$`, 'm'));
			assert.ok(m, `ldconfig does not know ${lib}`);
			const f = fs.realpathSync(m[1]);
			const plain = f.replace(/^\/usr\//, '/');
			files.set(lib, [f, plain, `/usr${plain}`]);
		}
		const lists = fs.readdirSync('/var/lib/dpkg/info')
			.filter((f) => f.endsWith('.list'))
			.map((f) => path.join('/var/lib/dpkg/info', f));
		const g = spawnSync('grep', ['-HxF',
			...[...files.values()].flat().flatMap((f) => ['-e', f]), ...lists],
			{ encoding: 'utf8', maxBuffer: 1 << 24 });
		const owner = new Map();
		for (const line of g.stdout.split('\n').filter(Boolean)) {
			const i = line.indexOf('.list:');
			const pkg = path.basename(line.slice(0, i)).split(':')[0];
			const file = line.slice(i + 6);
			owner.set(file, [...(owner.get(file) ?? []), pkg]);
		}
		for (const lib of needed) {
			const pkgs = files.get(lib).flatMap((f) => owner.get(f) ?? []);
			assert.ok(pkgs.length > 0, `no package has ${lib}`);
			assert.ok(pkgs.some((p) => p === 'libc6' || runtime.has(p)),
				`${lib} (${pkgs.join(', ')}) is not installed in the runtime stage`);
		}
	});

	test('every COPY source exists and is in the build context', () => {
		// Each Dockerfile's own ignore file (BuildKit), and the top-level
		// one other builders read.
		for (const [stages, ignore] of [
			[DOCKERFILE, 'deploy/docker/Dockerfile.dockerignore'],
			[GATEWAY_DOCKERFILE, 'deploy/docker/gateway.Dockerfile.dockerignore'],
			[DOCKERFILE, '.dockerignore'],
			[GATEWAY_DOCKERFILE, '.dockerignore'],
		]) {
			const rules = ignoreRules(ignore);
			for (const s of stages) {
				for (const c of s.ins.filter((i) => i.ins === 'COPY')) {
					if (/--from=/.test(c.args)) {
						continue;
					}
					const words = c.args.split(' ').filter((w) => !w.startsWith('--'));
					for (const src of words.slice(0, -1)) {
						const p = src.replace(/\/$/, '');
						assert.ok(exists(p), `${s.name}: COPY ${src}: no such path`);
						assert.ok(keptByIgnore(rules, p),
							`${s.name}: COPY ${src} is excluded by ${ignore}`);
					}
				}
			}
			assert.ok(!keptByIgnore(rules, 'build/auth'), `${ignore} keeps build/`);
			assert.ok(!keptByIgnore(rules, 'var/keys/jwt.key'),
				`${ignore} keeps var/`);
		}
		for (const f of ['deploy/docker/gateway.Dockerfile.dockerignore',
			'.dockerignore']) {
			const gw = ignoreRules(f);
			assert.ok(!keptByIgnore(gw, 'frontend/node_modules/vite/package.json'),
				f);
			assert.ok(keptByIgnore(gw, 'frontend/src/main.jsx'), f);
			assert.ok(keptByIgnore(gw, 'deploy/nginx/proxy.conf'), f);
			assert.ok(!keptByIgnore(gw, 'deploy/keys/jwt.key'), f);
		}
	});

	// Slow (a full build): SC_DEPLOY_BUILD_CONTEXT=1 to run it.
	test('the build stage\'s files alone build every binary', {
		skip: process.env.SC_DEPLOY_BUILD_CONTEXT === '1' ? false
			: 'a full build: set SC_DEPLOY_BUILD_CONTEXT=1',
		timeout: 600000,
	}, () => {
		const build = stage(DOCKERFILE, 'build');
		const rules = ignoreRules('deploy/docker/Dockerfile.dockerignore');
		const dir = tmpdir('context');
		const copyKept = (p) => {
			if (!keptByIgnore(rules, p)) {
				return;
			}
			const st = fs.statSync(rel(p));
			if (st.isDirectory()) {
				for (const e of fs.readdirSync(rel(p))) {
					copyKept(path.join(p, e));
				}
			} else {
				fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
				fs.copyFileSync(rel(p), path.join(dir, p));
			}
		};
		for (const c of build.ins.filter((i) => i.ins === 'COPY')) {
			const words = c.args.split(' ').filter((w) => !w.startsWith('--'));
			for (const src of words.slice(0, -1)) {
				copyKept(src.replace(/\/$/, ''));
			}
		}
		const make = build.ins.find((i) => i.ins === 'RUN' &&
			/\bmake\b/.test(i.args)).args;
		const targets = make.match(/build\/[\w-]+/g);
		const r = spawnSync('make', ['-j', String(os.cpus().length), ...targets],
			{ cwd: dir, encoding: 'utf8' });
		assert.equal(r.status, 0, r.stderr.slice(-3000));
		for (const t of targets) {
			assert.ok(fs.existsSync(path.join(dir, t)), t);
		}
	});

	test('the gateway image builds the PWA with npm ci and vite', () => {
		const pwa = GATEWAY_DOCKERFILE[0];
		const runs = pwa.ins.filter((i) => i.ins === 'RUN').map((i) => i.args);
		assert.ok(runs.some((r) => /npm ci/.test(r)));
		assert.ok(runs.some((r) => /vite build/.test(r)));
		const gw = stage(GATEWAY_DOCKERFILE, 'gateway');
		assert.ok(aptInstalls(gw).includes('nginx'));
		assert.match(effective(GATEWAY_DOCKERFILE, gw, 'ENTRYPOINT'),
			/gateway\.sh", "run"/);
	});
});

// ---- the gateway's nginx config in a container -----------------------------

function renderGateway(env) {
	return spawnSync(rel('deploy/docker/gateway.sh'), ['render', '-'], {
		encoding: 'utf8',
		env: { PATH: process.env.PATH,
			GATEWAY_TEMPLATE: rel('deploy/nginx/gateway.conf.in'), ...env },
	});
}

describe('the container gateway (deploy/docker/gateway.sh)', () => {
	test('renders the template\'s routes for upstreams at the service names',
		() => {
			const r = renderGateway({});
			assert.equal(r.status, 0, r.stderr);
			const conf = r.stdout;
			for (const s of DAEMONS) {
				assert.match(conf, new RegExp(`upstream ${s}\\s*\\{ server ` +
					`${s}:${LOCAL.http[s]}( max_fails=0)?;`));
			}
			assert.match(conf, new RegExp('upstream signaling_sio \\{ ' +
				`(least_conn; )?server signaling:${LOCAL.sio}( max_fails=0)?;`));
			assert.match(conf, /^\s*listen 8080;$/m);
			assert.doesNotMatch(conf, /127\.0\.0\.1/);
			assert.doesNotMatch(conf, /@[A-Z0-9_]+@/);
			assert.match(conf, /access_log \/dev\/stdout json;/);
			// The same routes as `make run`'s gateway.
			const locations = (t) => t.split('\n').map((l) => l.trim())
				.filter((l) => l.startsWith('location '));
			assert.deepEqual(locations(conf),
				locations(read('deploy/nginx/gateway.conf.in')));
			// The daemons' ports in compose and the gateway's defaults agree.
			for (const s of DAEMONS) {
				assert.equal(Number(composeEnv(COMPOSE.doc.services[s])
					.get('SC_HTTP_PORT')), LOCAL.http[s]);
			}
		});

	test('refuses a bad upstream or real-IP range, naming it', () => {
		let r = renderGateway({ GATEWAY_UPSTREAM_AUTH: 'auth' });
		assert.notEqual(r.status, 0);
		assert.match(r.stderr, /GATEWAY_UPSTREAM_AUTH 'auth'/);
		r = renderGateway({ GATEWAY_REAL_IP_FROM: '10.0.0.0/8;evil' });
		assert.notEqual(r.status, 0);
		assert.match(r.stderr, /GATEWAY_REAL_IP_FROM/);
	});

	test('pins each Socket.IO session to its signaling instance', () => {
		const env = {
			GATEWAY_UPSTREAM_SIGNALING: 'sig-0.peers:7005,sig-1.peers:7005',
			GATEWAY_UPSTREAM_SIGNALING_SIO: 'sig-0.peers:7006,sig-1.peers:7006',
		};
		const r = renderGateway(env);
		if (!read('deploy/nginx/gateway.conf.in').includes('@SIGNALING_SERVERS@')) {
			assert.notEqual(r.status, 0);
			assert.match(r.stderr, /several signaling instances/);
			return;
		}
		assert.equal(r.status, 0, r.stderr);
		assert.match(r.stdout, /upstream signaling_sio_1 \{ server sig-1\.peers:7006;/);
		assert.match(r.stdout, /"~\^s1\\\." signaling_sio_1;/);
		const bad = renderGateway({ ...env,
			GATEWAY_UPSTREAM_SIGNALING_SIO: 'sig-0.peers:7006' });
		assert.notEqual(bad.status, 0);
		assert.match(bad.stderr, /same instances/);
	});

	test('nginx -t accepts the rendered config', (t) => {
		if (!have('nginx') && !fs.existsSync('/usr/sbin/nginx')) {
			t.skip('nginx is not installed');
			return;
		}
		const nginx = have('nginx') ? 'nginx' : '/usr/sbin/nginx';
		const dir = tmpdir('nginx');
		fs.mkdirSync(path.join(dir, 'pwa'));
		fs.writeFileSync(path.join(dir, 'pwa/index.html'), '<!doctype html>\n');
		for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
			fs.mkdirSync(path.join(dir, 'tmp', sub), { recursive: true });
		}
		// Upstream names nginx can resolve here: localhost and addresses.
		const env = {
			GATEWAY_VAR: dir,
			GATEWAY_PWA_ROOT: path.join(dir, 'pwa'),
			GATEWAY_REAL_IP_FROM: '10.0.0.0/8, fd00::/8',
			GATEWAY_LISTEN_IPV6: '1',
			GATEWAY_PORT: '18080',
		};
		for (const s of DAEMONS) {
			env[`GATEWAY_UPSTREAM_${UP(s)}`] = `localhost:${LOCAL.http[s]}`;
		}
		env.GATEWAY_UPSTREAM_SIGNALING_SIO = `127.0.0.1:${LOCAL.sio}`;
		const r = renderGateway(env);
		assert.equal(r.status, 0, r.stderr);
		assert.match(r.stdout, /set_real_ip_from fd00::\/8;/);
		const conf = path.join(dir, 'nginx.conf');
		fs.writeFileSync(conf, r.stdout);
		// The access log is /dev/stdout, as in the container: a file here
		// (node's pipes to a child are sockets, which cannot be opened).
		const out = fs.openSync(path.join(dir, 'stdout'), 'w');
		const x = spawnSync(nginx, ['-t', '-q', '-p', `${dir}/`, '-c', conf,
			'-e', 'stderr'], { encoding: 'utf8', stdio: ['ignore', out, 'pipe'] });
		fs.closeSync(out);
		assert.equal(x.status, 0, `nginx -t: ${x.stderr}`);
	});
});

// ---- the operator's guide --------------------------------------------------

describe('deploy/OPERATIONS.md', () => {
	const doc = read('deploy/OPERATIONS.md');

	test('names only paths that exist', () => {
		const paths = new Set([...doc.matchAll(
			/(?<![\w/.-])((?:deploy|tests|common|services|migrations|proto)\/[\w./-]*[\w/])/g)]
			.map((m) => m[1]).filter((p) => !p.includes('<')));
		assert.ok(paths.size > 5);
		for (const p of paths) {
			// Files an operator makes from an example.
			if (/overlays\/production\/secrets\/[\w.-]+$/.test(p) &&
				!p.endsWith('.example')) {
				continue;
			}
			if (/^deploy\/keys\/jwt/.test(p) || /^deploy\/prod\.env$/.test(p)) {
				continue;
			}
			// kubectl's deploy/<name> is a Deployment, not a path.
			if (new RegExp(`^deploy/(${[...DAEMONS, 'gateway'].join('|')})$`)
				.test(p)) {
				continue;
			}
			assert.ok(exists(p), `OPERATIONS.md names ${p}, which does not exist`);
		}
	});

	test('covers scaling each daemon, backups, migrations, keys, logs, drain',
		() => {
			for (const s of [...DAEMONS, 'gateway']) {
				assert.match(doc, new RegExp(`^\\|\\s*${s}\\s*\\|`, 'm'),
					`a scaling row for ${s}`);
			}
			for (const w of ['pg_dump', 'migrate', 'SC_JWT_PUBLIC_KEY_FILE',
				'SIGTERM', '/health', '/ready', 'requestId', 'kubectl apply']) {
				assert.ok(doc.includes(w), `mentions ${w}`);
			}
		});
});
