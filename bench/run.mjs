// `npm run bench`: the Worker's size, start-up and speed, measured the same
// way every time. See README "Benchmarks" for how to read the table.
//
// - Bundle: the wasm and JS that `wrangler deploy` would upload, raw and gzip -9.
// - Start-up: from starting workerd (Miniflare) to the first 200, and that
//   first request's latency; median of several cold starts.
// - Requests: a closed-loop Rust client (bench/loadgen) in its own process,
//   against workerd serving the Worker directly, for a fixed duration and
//   concurrency. Each round measures every scenario back to back, in a
//   rotated order, including a baseline Worker answering constant JSON; each
//   scenario is also reported as a ratio to the baseline of the same round,
//   which absorbs the machine's minute-to-minute drift.
// - Sync: a year of half-hourly Octopus data from a local fake, synced end to
//   end through the queue (bench/sync.mjs).
// - Webhooks: signed deliveries to a user's endpoint (bench/webhooks.mjs).
//
// BENCH_ONLY=sync (or startup, requests, webhooks; comma-separated) runs only those
// parts, against the Worker already in build/ (no set-up, no rebuild), and
// prints the table without writing bench/results/.

import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { setup } from '../scripts/setup.mjs';
import { buildFloor } from '../scripts/build.mjs';
import { BIN, ROOT, log, projectEnv, run } from '../scripts/lib/toolchain.mjs';
import { signSessionToken } from '../scripts/lib/jwt.mjs';
import { freePort } from '../tests/helpers/worker.mjs';
import { seedSql } from './seed.mjs';
import { syncBench } from './sync.mjs';
import { webhookBench } from './webhooks.mjs';
import { table } from './report.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);
const COLD_STARTS = 3;
const SYNC_REPS = Number(process.env.BENCH_SYNC_REPS ?? 3);
const PARTS = ['startup', 'requests', 'sync', 'webhooks'];
const ONLY = (process.env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean);
for (const p of ONLY) if (!PARTS.includes(p)) throw new Error(`BENCH_ONLY: unknown part ${p} (known: ${PARTS.join(', ')})`);
const wants = (part) => ONLY.length === 0 || ONLY.includes(part);
const ISSUER = 'https://bench.clerk.invalid';
const BENCH_USER = 'user_bench';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function wrangler(args, env = projectEnv()) {
  const res = spawnSync(path.join(BIN, 'wrangler'), args, { cwd: ROOT, env, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`wrangler ${args.join(' ')} failed:\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

function bundle() {
  const outdir = path.join(ROOT, 'bench', '.build');
  rmSync(outdir, { recursive: true, force: true });
  // `deploy` runs wrangler.toml's [build] command; CARBON_PREBUILT makes it
  // bundle the build/ that is there instead of rebuilding (scripts/build.mjs).
  wrangler(['deploy', '--dry-run', '--outdir', outdir], projectEnv({ CARBON_PREBUILT: '1' }));
  const files = readdirSync(outdir);
  const entry = files.find((f) => f.endsWith('.js'));
  const wasm = files.find((f) => f.endsWith('.wasm'));
  const size = (f) => {
    const bytes = readFileSync(path.join(outdir, f));
    return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  };
  return { outdir, entry, wasm, sizes: { wasm: size(wasm), js: size(entry) } };
}

async function startServer(config) {
  const started = process.hrtime.bigint();
  const child = spawn(path.join(BIN, 'node'), [path.join(ROOT, 'bench', 'server.mjs'), JSON.stringify(config)], {
    cwd: ROOT,
    env: projectEnv(),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const deadline = Date.now() + 60_000;
  // Miniflare says READY once workerd listens with the Worker loaded; the
  // first request is timed from then, so it is the Worker's own first
  // request (instantiation, lazy set-up), not the wait for the socket.
  while (!out.includes('READY\n')) {
    if (child.exitCode !== null) throw new Error(`bench server exited: ${out}`);
    if (Date.now() > deadline) throw new Error('bench server did not start');
    await new Promise((r) => setTimeout(r, 5));
  }
  // The first request is the catalog: public and without D1, so it times
  // the Worker's own start (instantiating the wasm, building the catalog),
  // not local D1 opening its database. The second is the health check,
  // which does reach D1.
  const timed = async (route, port = config.appPort) => {
    const t0 = process.hrtime.bigint();
    const res = await fetch(`http://127.0.0.1:${port}${route}`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${route} answered ${res.status} at start`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  // The first request a fresh client makes costs 35-60 ms whichever Worker
  // answers it, the JS floor included (Node's fetch and the first connection
  // to workerd). The JS floor answers it first so that the Worker's own first
  // request is what is timed.
  const workerdFirstMs = config.baselinePort ? await timed('/', config.baselinePort) : undefined;
  const firstRequestMs = await timed('/api/v1/integrations');
  const firstD1Ms = await timed('/api/v1/health');
  // The Rust floor's first request, where it is served: the part of the
  // first request that any workers-rs Worker of this build pays.
  const floorFirstMs = config.floorPort ? await timed('/', config.floorPort) : undefined;
  return {
    child,
    output: () => out,
    startupMs: Number(process.hrtime.bigint() - started) / 1e6,
    firstRequestMs,
    firstD1Ms,
    floorFirstMs,
    workerdFirstMs,
  };
}

/** The workerd process serving for a bench server (Miniflare's child). */
function workerdPid(server) {
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === server.child.pid && name.startsWith('workerd')) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

async function stopServer(server) {
  server.child.kill('SIGTERM');
  await new Promise((r) => (server.child.exitCode !== null ? r() : server.child.once('exit', r)));
}

function load(url, headers = [], cpuPid = null) {
  const args = [url, '--duration-ms', String(DURATION_MS), '--concurrency', String(CONCURRENCY), '--warmup-ms', '500'];
  for (const h of headers) args.push('--header', h);
  if (cpuPid) args.push('--cpu-pid', String(cpuPid));
  const res = spawnSync(path.join(ROOT, 'target', 'release', 'loadgen'), args, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`loadgen failed: ${res.stderr}`);
  return JSON.parse(res.stdout);
}

/** The server's latest request log line per route (see bench/server.mjs). */
async function stats(server) {
  const seen = () => [...server.output().matchAll(/STATS (.*)\n/g)];
  const before = seen().length;
  server.child.stdin.write('STATS\n');
  for (let i = 0; i < 100; i++) {
    const all = seen();
    if (all.length > before) return JSON.parse(all.at(-1)[1]);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the bench server did not answer STATS');
}

/** A fresh local D1 with the migrations applied, as `wrangler d1 migrations apply` does it. */
function freshDatabase() {
  const dir = mkdtempSync(path.join(tmpdir(), 'carbon-bench-'));
  wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', dir]);
  return dir;
}

/** Rows from a local D1 (the Worker may be serving it meanwhile, as in tests/helpers/d1.mjs). */
function d1Query(persistDir, sql) {
  return JSON.parse(wrangler(['d1', 'execute', 'DB', '--local', '--persist-to', persistDir, '--json', '--command', sql]))[0].results;
}

async function main() {
  if (ONLY.length === 0) {
    setup();
  } else {
    log(`BENCH_ONLY=${ONLY.join(',')}: serving the Worker already in build/ (no set-up, no rebuild); nothing is written to bench/results/`);
  }
  if (wants('requests')) {
    log('building the load generator');
    run('cargo', ['build', '--release', '-p', 'loadgen', '--quiet']);
  }
  log('bundling as wrangler deploy would');
  const built = bundle();

  // Start-up and requests share one D1 with 20 seeded datasources; the sync
  // scenario makes its own.
  let persistDir = null;
  if (wants('startup') || wants('requests')) {
    persistDir = freshDatabase();
    const sqlFile = path.join(persistDir, 'seed.sql');
    writeFileSync(sqlFile, seedSql(BENCH_USER, 20));
    wrangler(['d1', 'execute', 'DB', '--local', '--persist-to', persistDir, '--file', sqlFile]);
  }

  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const vars = {
    CLERK_ISSUER: ISSUER,
    CLERK_JWT_KEY: publicKey,
    ALLOWED_ORIGINS: 'https://app.bench.invalid',
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  };
  const config = async (extra = {}) => ({
    bundleDir: built.outdir,
    entry: built.entry,
    wasm: built.wasm,
    persistDir,
    appPort: await freePort(),
    baselinePort: await freePort(),
    ...extra,
    vars: { ...vars, ...extra.vars },
  });
  const tokenFor = (userId) => signSessionToken({ privateKey, kid: 'bench', issuer: ISSUER, userId, azp: null, ttlSeconds: 3600 });

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length },
    only: ONLY.length ? ONLY : undefined,
    settings: { rounds: ROUNDS, duration_ms: DURATION_MS, concurrency: CONCURRENCY, sync_reps: SYNC_REPS, cold_starts: COLD_STARTS },
    bundle: built.sizes,
  };

  if (wants('startup')) {
    log(`measuring ${COLD_STARTS} cold starts`);
    const starts = [];
    const floorDir = buildFloor();
    for (let i = 0; i < COLD_STARTS; i++) {
      const server = await startServer(await config({ floorDir, floorPort: await freePort() }));
      starts.push(server);
      await stopServer(server);
    }
    result.startup = {
      ms: median(starts.map((s) => s.startupMs)),
      firstRequestMs: median(starts.map((s) => s.firstRequestMs)),
      firstD1Ms: median(starts.map((s) => s.firstD1Ms)),
      floorFirstMs: median(starts.map((s) => s.floorFirstMs)),
      workerdFirstMs: median(starts.map((s) => s.workerdFirstMs)),
      samples: starts.map((s) => s.startupMs),
    };
  }

  if (wants('requests')) result.scenarios = await requests(config, tokenFor);
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });

  // What a scenario that runs its own servers and databases is handed.
  const harness = {
    root: ROOT,
    config,
    token: tokenFor,
    startServer,
    stopServer,
    stats,
    freshDatabase,
    removeDatabase: (dir) => rmSync(dir, { recursive: true, force: true }),
    d1: d1Query,
    median,
    log,
  };
  if (wants('sync')) {
    log('sync scenario');
    result.sync = await syncBench({ ...harness, reps: SYNC_REPS });
  }

  if (wants('webhooks')) {
    log('webhook scenario');
    result.webhooks = await webhookBench(harness);
  }

  const text = table(result);
  if (ONLY.length === 0) {
    const dir = path.join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const stamp = result.date.replace(/[:.]/g, '-');
    writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify(result, null, 2) + '\n');
    writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
    writeFileSync(path.join(dir, 'latest.md'), `# Latest benchmark (${result.date})\n\n${text}\n`);
  } else if (process.env.BENCH_JSON) {
    writeFileSync(process.env.BENCH_JSON, JSON.stringify(result, null, 2) + '\n');
  }
  console.log(text);
}

/** The request scenarios: loadgen against the Worker and both floors, in rounds. */
async function requests(config, tokenFor) {
  const cfg = await config({ floorDir: buildFloor(), floorPort: await freePort(), d1FloorPort: await freePort() });
  const server = await startServer(cfg);
  const cpuPid = workerdPid(server);
  if (!cpuPid) log('workerd process not found: server CPU per request is not measured');
  const token = tokenFor(BENCH_USER);
  const app = `http://127.0.0.1:${cfg.appPort}`;
  const scenarios = [
    { name: 'JS floor (constant JSON, JS Worker)', url: `http://127.0.0.1:${cfg.baselinePort}/`, route: null, floor: 'js' },
    { name: 'Rust floor (constant JSON, workers-rs Worker)', url: `http://127.0.0.1:${cfg.floorPort}/`, route: null, floor: 'rust' },
    {
      name: 'JS + D1 floor (20 rows, one statement, no auth)',
      url: `http://127.0.0.1:${cfg.d1FloorPort}/?user=${BENCH_USER}`,
      route: null,
      floor: 'd1',
    },
    { name: 'GET /api/v1/integrations', url: `${app}/api/v1/integrations`, route: 'GET /api/v1/integrations' },
    {
      name: 'GET /api/v1/integrations?category=solar_battery&q=battery',
      url: `${app}/api/v1/integrations?category=solar_battery&q=battery`,
      route: 'GET /api/v1/integrations',
    },
    {
      name: 'GET /api/v1/me (session token only)',
      url: `${app}/api/v1/me`,
      headers: [`Authorization: Bearer ${token}`],
      route: 'GET /api/v1/me',
    },
    {
      name: 'GET /api/v1/datasources (auth + D1, 20 rows)',
      url: `${app}/api/v1/datasources`,
      headers: [`Authorization: Bearer ${token}`],
      route: 'GET /api/v1/datasources',
    },
  ];
  const list = scenarios.find((s) => s.route === 'GET /api/v1/datasources');
  const check = await fetch(list.url, { headers: { authorization: `Bearer ${token}` } });
  const listed = await check.json();
  if (check.status !== 200 || listed.pagination.total !== 20 || listed.data.length !== 20) {
    throw new Error(`seeded datasources not visible: ${JSON.stringify(listed)}`);
  }
  const d1 = {};
  const bodyBytes = {};
  for (const s of scenarios) {
    const res = await fetch(s.url, { headers: Object.fromEntries((s.headers ?? []).map((h) => h.split(': '))) });
    bodyBytes[s.name] = (await res.arrayBuffer()).byteLength;
    if (s.route) d1[s.name] = (await stats(server)).lastByRoute[s.route]?.d1_statements;
  }

  const rounds = scenarios.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    log(`round ${r + 1}/${ROUNDS}`);
    for (let k = 0; k < scenarios.length; k++) {
      const i = (k + r) % scenarios.length;
      rounds[i].push(load(scenarios[i].url, scenarios[i].headers, cpuPid));
    }
  }
  await stopServer(server);

  const js = scenarios.findIndex((s) => s.floor === 'js');
  const rust = scenarios.findIndex((s) => s.floor === 'rust');
  const cpu = (x) => x.server_cpu_us_per_request ?? NaN;
  // Ratios are paired per round (the same minute of the machine), then the median taken.
  return scenarios.map((s, i) => ({
    name: s.name,
    floor: s.floor,
    rps: median(rounds[i].map((x) => x.rps)),
    p50_ms: median(rounds[i].map((x) => x.p50_ms)),
    p99_ms: median(rounds[i].map((x) => x.p99_ms)),
    cpu_us: median(rounds[i].map(cpu)),
    errors: rounds[i].reduce((n, x) => n + x.errors, 0),
    rps_vs_js: median(rounds[i].map((x, r) => x.rps / rounds[js][r].rps)),
    rps_vs_rust: median(rounds[i].map((x, r) => x.rps / rounds[rust][r].rps)),
    cpu_vs_rust: median(rounds[i].map((x, r) => cpu(x) / cpu(rounds[rust][r]))),
    d1_statements: d1[s.name],
    body_bytes: bodyBytes[s.name],
    rounds: rounds[i],
  }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
