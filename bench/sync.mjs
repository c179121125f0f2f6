// The sync scenario of `npm run bench`: one year of half-hourly Octopus
// electricity (17,520 intervals, one meter) served by the test suite's fake
// Octopus on loopback, synced end to end through the built Worker under
// workerd (Miniflare) with the queue, R2 and rate-limit bindings of
// wrangler.toml.
//
// Each sample: a fresh user and datasource (connected through the API, so the
// fake validates the key), then the clock starts, POST /sync (the first sync
// of a datasource: a 13-month backfill), and GET the run every POLL_MS until
// it reads `succeeded`; the clock stops when that answer arrives. Nothing is
// subtracted. A subclass of the Worker's entry (bench/server.mjs, timeQueue)
// logs when each queue batch starts and ends and how long its D1, R2, queue
// and outbound fetch calls took, which splits the wall time into the POST and
// queue delivery, the Worker's work inside the consumer (I/O and the CPU
// rest), the gaps between slices, and the lag until a poll saw the end.
// Every run's rows are then counted and summed in D1 against the fake's.
//
// The fake's account also lists a gas meter; the scenario is one electricity
// meter, so a small proxy between the Worker and the fake removes the gas
// meter from the account (every other request passes through unchanged).

import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { octopus } from '../tests/fakes/keyed.mjs';
import { emissionsBench, emissionsTable } from './emissions.mjs';
import { flooredNow } from '../tests/helpers/clock.mjs';

const HALF_HOUR = 1800_000;
const POLL_MS = 20;
const KEY = 'sk_live_BenchBench0123456789';
const ACCOUNT = 'A-BE0C1A2B';
const MPAN = '1098765432101';
/** Page sizes measured: Octopus's maximum, and pages of 1,000 to show the per-page cost. */
export const SYNC_PAGE_CAPS = [25000, 1000];

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Half-hourly values, deterministic, for a year ending at the last whole half hour. */
function yearOfHalfHours() {
  const end = flooredNow(HALF_HOUR) - HALF_HOUR;
  const start = end - 365 * 86400_000;
  const out = [];
  for (let t = start, i = 0; t < end; t += HALF_HOUR, i++) out.push([t, Math.round(((i * 7919 + 1) % 2000) + 1) / 1000]);
  return out;
}

/**
 * Forwards to `upstream` (the fake); the account document loses its gas
 * meter points, everything else is piped through untouched. `timings` holds,
 * per request, the fake's time (request sent to response fully read here, or
 * to its end piped through) and the whole time here (received to written).
 */
async function withoutGas(upstream) {
  const target = new URL(upstream);
  const timings = [];
  const server = http.createServer((req, res) => {
    const t0 = now();
    const timing = { fake_ms: 0, total_ms: 0 };
    timings.push(timing);
    res.on('finish', () => (timing.total_ms = now() - t0));
    const fail = (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    };
    const headers = { connection: 'close' };
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (upRes) => {
      const account = upRes.statusCode === 200 && /^\/v1\/accounts\/[^/]+\/$/.test(new URL(req.url, 'http://x').pathname);
      if (!account) {
        upRes.on('end', () => (timing.fake_ms = now() - t0));
        res.writeHead(upRes.statusCode, upRes.headers);
        upRes.pipe(res);
        return;
      }
      const chunks = [];
      upRes.on('data', (c) => chunks.push(c));
      upRes.on('end', () => {
        timing.fake_ms = now() - t0;
        try {
          const doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          for (const p of doc.properties ?? []) p.gas_meter_points = [];
          res.writeHead(200, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(doc));
        } catch (err) {
          fail(err);
        }
      });
    });
    up.on('error', fail);
    req.pipe(up);
  });
  server.keepAliveTimeout = 0;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    timings,
    close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      }),
  };
}

/** Miniflare options for the bindings wrangler.toml declares beyond D1 (top level, not env.production): queues, R2, rate limiters, Durable Objects. */
export async function wranglerBindings(root) {
  const { experimental_readRawConfig } = await import('wrangler');
  const { rawConfig: c } = experimental_readRawConfig({ config: path.join(root, 'wrangler.toml') });
  const consumer = (q) => ({
    maxBatchSize: q.max_batch_size,
    maxBatchTimeout: q.max_batch_timeout,
    maxRetries: q.max_retries,
    deadLetterQueue: q.dead_letter_queue,
  });
  return {
    queueProducers: Object.fromEntries((c.queues?.producers ?? []).map((q) => [q.binding, { queueName: q.queue }])),
    queueConsumers: Object.fromEntries((c.queues?.consumers ?? []).map((q) => [q.queue, consumer(q)])),
    r2Buckets: Object.fromEntries((c.r2_buckets ?? []).map((b) => [b.binding, b.bucket_name])),
    ratelimits: Object.fromEntries((c.ratelimits ?? []).map((r) => [r.name, { namespace_id: r.namespace_id, simple: r.simple }])),
    durableObjects: Object.fromEntries((c.durable_objects?.bindings ?? []).map((d) => [d.name, { className: d.class_name, useSQLite: true }])),
  };
}

/**
 * Runs the scenario. `h` is the harness of bench/run.mjs: { root, reps, config,
 * token, startServer, stopServer, stats, freshDatabase, removeDatabase, d1,
 * median, log }.
 */
export async function syncBench(h) {
  const series = yearOfHalfHours();
  const fake = await octopus({ accounts: { [ACCOUNT]: { key: KEY, mpan: MPAN } } });
  fake.series[`electricity:${MPAN}`] = series;
  const proxy = await withoutGas(fake.url);
  const bindings = await wranglerBindings(h.root);
  // The consumer of the queue SYNC_QUEUE sends to: its batch size and
  // timeout decide how long a sent slice waits before it is delivered.
  const syncQueue = bindings.queueProducers.SYNC_QUEUE?.queueName;
  const consumer = bindings.queueConsumers[syncQueue];
  if (!consumer) throw new Error('wrangler.toml has no consumer for the SYNC_QUEUE queue');
  const persistDir = h.freshDatabase();
  const cfg = await h.config({ persistDir, baselinePort: null, bindings, timeQueue: true, vars: { OCTOPUS_API_BASE: proxy.url } });
  const server = await h.startServer(cfg);
  const app = `http://127.0.0.1:${cfg.appPort}`;
  let users = 0;

  async function call(user, method, p, body) {
    const res = await fetch(`${app}${p}`, {
      method,
      headers: { authorization: `Bearer ${h.token(user)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /** One sample: fresh user (rate limits are per user) and datasource. */
  async function sample(pageCap) {
    fake.pageCap = pageCap;
    const user = `user_bench_sync_${++users}`;
    const created = await call(user, 'POST', '/api/v1/datasources', {
      integration_id: 'octopus-energy',
      credentials: { api_key: KEY, account_number: ACCOUNT },
    });
    if (created.status !== 201) throw new Error(`connecting the fake Octopus failed: ${created.status} ${JSON.stringify(created.body)}`);
    const id = created.body.id;
    const firstRequest = fake.requests.length;
    const firstTiming = proxy.timings.length;
    const batchesBefore = (await h.stats(server)).queueBatches.length;

    const t0 = now();
    const started = await call(user, 'POST', `/api/v1/datasources/${id}/sync`);
    const postEnd = now();
    if (started.status !== 202) throw new Error(`POST /sync: ${started.status} ${JSON.stringify(started.body)}`);
    const runId = started.body.id;
    let run;
    let polls = 0;
    for (const deadline = t0 + 120_000; ; ) {
      run = (await call(user, 'GET', `/api/v1/datasources/${id}/sync-runs/${runId}`)).body;
      polls += 1;
      if (['succeeded', 'partial', 'failed'].includes(run.status)) break;
      // A slice that failed waits out a backoff of 30 s or more: a bench
      // result would be meaningless, so stop at once.
      if (run.error) throw new Error(`a slice of the sync run failed: ${JSON.stringify(run)}`);
      if (now() > deadline) throw new Error(`the sync run did not finish: ${JSON.stringify(run)}`);
      await sleep(POLL_MS);
    }
    const t1 = now();
    if (run.status !== 'succeeded') throw new Error(`the sync run ended ${run.status}: ${JSON.stringify(run)}`);
    if (run.inserted !== series.length) throw new Error(`the run inserted ${run.inserted} rows, expected ${series.length}`);

    const batches = (await h.stats(server)).queueBatches.slice(batchesBefore).filter((b) => b.runs.includes(runId));
    if (batches.length === 0) throw new Error('no queue batch was logged for the run');
    const workerMs = batches.reduce((s, b) => s + (b.end - b.start), 0);
    const io = (kind) => ({
      calls: batches.reduce((s, b) => s + b.io[kind].calls, 0),
      ms: batches.reduce((s, b) => s + b.io[kind].ms, 0),
      // Each call's ms, in order (not kept for fetch, which is timed globally).
      ...(kind === 'fetch' ? {} : { each: batches.flatMap((b) => b.io[kind].each) }),
    });
    const d1 = io('d1');
    const fetched = io('fetch');
    const r2 = io('r2');
    const queue = io('queue');
    const gaps = batches.slice(1).map((b, i) => b.start - batches[i].end);
    const lastEnd = batches.at(-1).end;
    const requests = fake.requests.slice(firstRequest);
    const timings = proxy.timings.slice(firstTiming);
    return {
      datasource_id: id,
      page_cap: pageCap,
      // The meters synced, as the fake saw them requested.
      meters: [...new Set(requests.filter((r) => r.path.endsWith('/consumption/')).map((r) => r.path.split('/')[2].replace('-meter-points', '')))],
      wall_ms: t1 - t0,
      post_ms: postEnd - t0,
      // From the POST's start to the consumer's start: the POST itself, then
      // queue delivery (the workerd clock against this process's: same host).
      to_first_slice_ms: batches[0].start - t0,
      worker_ms: workerMs,
      io: { d1, provider_fetch: fetched, r2, queue },
      // The slices' time outside those awaits: the Worker's CPU (wasm and JS).
      cpu_rest_ms: workerMs - d1.ms - fetched.ms - r2.ms - queue.ms,
      // Of the provider fetches: the fake's own time, and the gas-removing proxy's.
      fake_ms: timings.reduce((s, t) => s + t.fake_ms, 0),
      proxy_ms: timings.reduce((s, t) => s + t.total_ms - t.fake_ms, 0),
      queue_gaps_ms: gaps.reduce((s, g) => s + g, 0),
      poll_lag_ms: t1 - lastEnd,
      done_ms: lastEnd - t0,
      slices: batches.length,
      slice_ms: batches.map((b) => b.end - b.start),
      polls,
      pages: run.pages,
      inserted: run.inserted,
      rows_per_s: run.inserted / ((t1 - t0) / 1000),
      provider_requests: requests.length,
      consumption_requests: requests.filter((r) => r.path.endsWith('/consumption/')).length,
    };
  }

  const loadavg = { before: os.loadavg() };
  try {
    h.log('sync: warm-up run');
    const warmup = await sample(SYNC_PAGE_CAPS[0]);
    const byCap = [];
    for (const cap of SYNC_PAGE_CAPS) {
      const samples = [];
      for (let i = 0; i < h.reps; i++) {
        h.log(`sync: page size ${cap}, run ${i + 1}/${h.reps}`);
        samples.push(await sample(cap));
      }
      byCap.push({ cap, samples });
    }
    // The runs' counters are the Worker's; check the rows themselves.
    const stored = h.d1(
      persistDir,
      `SELECT datasource_id, COUNT(*) AS n, COUNT(DISTINCT period_start) AS starts, ROUND(SUM(quantity), 6) AS kwh FROM activity_data GROUP BY datasource_id`,
    );
    const want = { n: series.length, kwh: Math.round(series.reduce((s, [, v]) => s + v, 0) * 1e6) / 1e6 };
    for (const s of [warmup, ...byCap.flatMap((c) => c.samples)]) {
      const row = stored.find((r) => r.datasource_id === s.datasource_id);
      if (!row || row.n !== want.n || row.starts !== want.n || Math.abs(row.kwh - want.kwh) > 1e-6) {
        throw new Error(`datasource ${s.datasource_id} stored ${JSON.stringify(row)}, expected ${JSON.stringify(want)}`);
      }
    }
    h.log('sync: emissions of the warm-up run\'s year, recomputed');
    const emissions = await emissionsBench({ call, user: 'user_bench_sync_1', id: warmup.datasource_id, series, median: h.median });
    loadavg.after = os.loadavg();
    const med = (xs) => h.median(xs);
    const summary = (cap, samples) => ({
      page_cap: cap,
      runs: samples.length,
      wall_ms: med(samples.map((s) => s.wall_ms)),
      rows_per_s: med(samples.map((s) => s.rows_per_s)),
      inserted: samples[0].inserted,
      pages: med(samples.map((s) => s.pages)),
      provider_requests: med(samples.map((s) => s.provider_requests)),
      slices: med(samples.map((s) => s.slices)),
      post_ms: med(samples.map((s) => s.post_ms)),
      to_first_slice_ms: med(samples.map((s) => s.to_first_slice_ms)),
      worker_ms: med(samples.map((s) => s.worker_ms)),
      d1_ms: med(samples.map((s) => s.io.d1.ms)),
      d1_calls: med(samples.map((s) => s.io.d1.calls)),
      provider_fetch_ms: med(samples.map((s) => s.io.provider_fetch.ms)),
      fake_ms: med(samples.map((s) => s.fake_ms)),
      proxy_ms: med(samples.map((s) => s.proxy_ms)),
      r2_ms: med(samples.map((s) => s.io.r2.ms)),
      queue_send_ms: med(samples.map((s) => s.io.queue.ms)),
      cpu_rest_ms: med(samples.map((s) => s.cpu_rest_ms)),
      queue_gaps_ms: med(samples.map((s) => s.queue_gaps_ms)),
      poll_lag_ms: med(samples.map((s) => s.poll_lag_ms)),
      done_ms: med(samples.map((s) => s.done_ms)),
      samples,
    });
    return {
      intervals: series.length,
      meters: warmup.meters,
      poll_ms: POLL_MS,
      queue: { name: syncQueue, ...consumer },
      stored_rows_checked: true,
      // Other work on the machine stretches every figure: the 1-minute load
      // average before and after the scenario.
      loadavg,
      warmup,
      page_sizes: byCap.map(({ cap, samples }) => summary(cap, samples)),
      emissions,
    };
  } finally {
    await h.stopServer(server);
    await proxy.close();
    await fake.close();
    h.removeDatabase(persistDir);
  }
}

/** The scenario's lines of the printed table. */
export function syncTable(sync) {
  const q = sync.queue;
  const lines = [];
  lines.push(
    `Sync: one year of half-hourly Octopus electricity (${sync.intervals} intervals; meters: ${sync.meters.join(', ')}) from a fake on loopback, ` +
      `first sync (13-month backfill), queue ${q.name} max_batch_size ${q.maxBatchSize ?? '-'}, max_batch_timeout ${q.maxBatchTimeout ?? '-'} s, polled every ${sync.poll_ms} ms; ` +
      `medians (per column) of ${sync.page_sizes[0]?.runs} runs after a warm-up run (${sync.warmup.wall_ms.toFixed(0)} ms); ` +
      `${sync.intervals} rows stored per run, checked in D1; load average ${sync.loadavg.before[0].toFixed(1)} before, ${sync.loadavg.after[0].toFixed(1)} after`,
  );
  lines.push('');
  lines.push('| page size | wall ms (POST to succeeded read) | rows/s | pages | provider requests | slices | to 1st slice ms | Worker ms in slices | of which D1 (calls) | provider fetch | R2 puts | CPU rest | gaps between slices ms | poll lag ms |');
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const f = (x) => x.toFixed(0);
  for (const p of sync.page_sizes) {
    lines.push(
      `| ${p.page_cap} | ${f(p.wall_ms)} | ${f(p.rows_per_s)} | ${p.pages} | ${p.provider_requests} | ${p.slices} | ${f(p.to_first_slice_ms)} | ${f(p.worker_ms)} | ${f(p.d1_ms)} (${p.d1_calls}) | ${f(p.provider_fetch_ms)} | ${f(p.r2_ms)} | ${f(p.cpu_rest_ms)} | ${f(p.queue_gaps_ms)} | ${f(p.poll_lag_ms)} |`,
    );
  }
  if (sync.emissions) lines.push('', emissionsTable(sync.emissions));
  return lines.join('\n');
}
