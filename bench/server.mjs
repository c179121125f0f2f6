// Serves the built Worker straight from workerd through Miniflare's
// programmatic API (no wrangler dev proxy, which costs ~30x the per-request
// work of the Worker itself), next to a baseline Worker that answers a
// constant JSON body: the floor of this harness.
//
//   node bench/server.mjs '<json config>'
// config: { bundleDir, entry, wasm, persistDir, appPort, baselinePort, vars,
//           bindings?, timeQueue?, floorDir?, floorPort? }
// - baselinePort: optional (the sync scenario serves no baseline).
// - floorDir, floorPort: the Rust floor (bench/floor's build), a workers-rs
//   Worker answering constant JSON, served beside the JS baseline.
// - bindings: extra Miniflare bindings read from wrangler.toml by the caller
//   (queueProducers, queueConsumers, r2Buckets, ratelimits): the sync
//   scenario needs the queue, R2 and the rate limiters.
// - timeQueue: wraps the Worker's queue() in a subclass that logs when each
//   batch started and ended and how long its D1, R2, queue and fetch calls
//   took (workerd's clock), so the sync scenario can split its wall time into
//   queue delivery and the Worker's own work, and that work into I/O and CPU.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';

const config = JSON.parse(process.argv[2]);
const wrangler = readFileSync(new URL('../wrangler.toml', import.meta.url), 'utf8');
const compatibilityDate = /compatibility_date\s*=\s*"([^"]+)"/.exec(wrangler)[1];
const databaseId = /database_id\s*=\s*"([^"]+)"/.exec(wrangler)[1];

// The Worker's request log lines are kept in memory (last line per route)
// instead of printed: printing tens of thousands of lines would load this
// process and blur what is measured. `STATS` on stdin prints them as JSON.
const lastByRoute = {};
let logLines = 0;
// Queue batches as timed by the wrapper below (few: one per slice).
const queueBatches = [];
function capture({ message }) {
  const start = message.indexOf('{"level"');
  if (start < 0) return;
  try {
    const line = JSON.parse(message.slice(start));
    if (line.msg === 'request') {
      lastByRoute[`${line.method} ${line.route}`] = line;
      logLines += 1;
    } else if (line.msg === 'bench queue batch') {
      queueBatches.push(line);
    }
  } catch {
    // not one of ours
  }
}

// The timing wrapper (timeQueue): the bundled Worker's default export,
// unchanged but for queue(), whose start, end and I/O it logs per batch.
// Local workerd's Date.now() advances during CPU work too (unlike
// production's), so these are real durations. Each event gets its own
// instance, so the env bindings are wrapped per instance: D1, R2 and queue
// calls made by concurrent API requests (the bench's polls) are not counted
// in the batch. Outbound fetch is global; only the queue consumer fetches.
const timedEntry = `import Worker from './${config.entry}';
const fetches = { calls: 0, ms: 0 };
const realFetch = globalThis.fetch;
globalThis.fetch = async function (...args) {
  const t = Date.now();
  try {
    return await realFetch.apply(this, args);
  } finally {
    fetches.calls += 1;
    fetches.ms += Date.now() - t;
  }
};
function timed(acc, fn, self) {
  return async (...args) => {
    const t = Date.now();
    try {
      return await fn.apply(self, args);
    } finally {
      acc.calls += 1;
      acc.ms += Date.now() - t;
      acc.each.push(Date.now() - t);
    }
  };
}
// Every proxied object, to hand the real one to the runtime when it is passed back.
const real = new WeakMap();
function wrap(target, get) {
  const proxy = new Proxy(target, {
    get(t, key) {
      const special = get(t, key);
      if (special) return special;
      const v = Reflect.get(t, key);
      return typeof v === 'function' && key !== 'constructor' ? v.bind(t) : v;
    },
  });
  real.set(proxy, target);
  return proxy;
}
function statement(acc, s) {
  return wrap(s, (t, key) => {
    if (key === 'bind') return (...args) => statement(acc, t.bind(...args));
    if (['run', 'all', 'first', 'raw'].includes(key)) return timed(acc, t[key], t);
  });
}
function instrument(env, io) {
  const out = { ...env };
  if (env.DB) {
    out.DB = wrap(env.DB, (t, key) => {
      if (key === 'prepare') return (...args) => statement(io.d1, t.prepare(...args));
      if (key === 'batch') return timed(io.d1, (list) => t.batch(list.map((s) => real.get(s) ?? s)));
      if (key === 'exec') return timed(io.d1, t.exec, t);
    });
  }
  if (env.RAW) out.RAW = wrap(env.RAW, (t, key) => (key === 'put' ? timed(io.r2, t.put, t) : undefined));
  if (env.SYNC_QUEUE) out.SYNC_QUEUE = wrap(env.SYNC_QUEUE, (t, key) => (key === 'send' || key === 'sendBatch' ? timed(io.queue, t[key], t) : undefined));
  return out;
}
export default class extends Worker {
  constructor(ctx, env) {
    const io = { d1: { calls: 0, ms: 0, each: [] }, r2: { calls: 0, ms: 0, each: [] }, queue: { calls: 0, ms: 0, each: [] } };
    super(ctx, instrument(env, io));
    this.benchIo = io;
  }
  async queue(batch) {
    const start = Date.now();
    const f0 = { ...fetches };
    try {
      return await super.queue(batch);
    } finally {
      const io = { ...this.benchIo, fetch: { calls: fetches.calls - f0.calls, ms: fetches.ms - f0.ms } };
      console.log(JSON.stringify({ level: 'info', msg: 'bench queue batch', start, end: Date.now(), runs: batch.messages.map((m) => m.body?.run_id), io }));
    }
  }
}
`;
const modules = [
  ...(config.timeQueue ? [{ type: 'ESModule', path: path.join(config.bundleDir, 'bench-timed-entry.mjs'), contents: timedEntry }] : []),
  { type: 'ESModule', path: path.join(config.bundleDir, config.entry) },
  { type: 'CompiledWasm', path: path.join(config.bundleDir, config.wasm) },
];

const mf = new Miniflare(
  convertV4MiniflareOptions({
    handleStructuredLogs: capture,
    resourcePersistencePath: path.join(config.persistDir, 'v3'),
    workers: [
      {
        name: 'app',
        compatibilityDate,
        modulesRoot: config.bundleDir,
        modules,
        bindings: config.vars,
        d1Databases: { DB: databaseId },
        ...(config.bindings ?? {}),
        unsafeDirectSockets: [{ host: '127.0.0.1', port: config.appPort }],
      },
      ...(config.baselinePort
        ? [
            {
              name: 'baseline',
              compatibilityDate,
              modules: true,
              script: 'export default { fetch() { return Response.json({ ok: true }); } };',
              unsafeDirectSockets: [{ host: '127.0.0.1', port: config.baselinePort }],
            },
          ]
        : []),
      ...(config.d1FloorPort
        ? [
            {
              // The JS floor of a D1 read: one user's 20 newest datasources,
              // one statement, rows returned as they come (no auth, no shaping).
              name: 'd1floor',
              compatibilityDate,
              modules: true,
              d1Databases: { DB: databaseId },
              script: `export default { async fetch(request, env) {
                const user = new URL(request.url).searchParams.get('user');
                const { results } = await env.DB.prepare(
                  'SELECT * FROM datasources WHERE user_id = ?1 AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 20'
                ).bind(user).all();
                return Response.json({ data: results });
              } };`,
              unsafeDirectSockets: [{ host: '127.0.0.1', port: config.d1FloorPort }],
            },
          ]
        : []),
      ...(config.floorPort
        ? [
            {
              name: 'floor',
              compatibilityDate,
              modulesRoot: config.floorDir,
              modules: [
                { type: 'ESModule', path: path.join(config.floorDir, 'index.js') },
                { type: 'CompiledWasm', path: path.join(config.floorDir, 'index_bg.wasm') },
              ],
              unsafeDirectSockets: [{ host: '127.0.0.1', port: config.floorPort }],
            },
          ]
        : []),
    ],
  }),
);
await mf.ready;
process.stdout.write('READY\n');
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  if (chunk.includes('STATS')) process.stdout.write(`STATS ${JSON.stringify({ logLines, lastByRoute, queueBatches })}\n`);
});
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
