// Serves the built Worker straight from workerd through Miniflare's
// programmatic API (no wrangler dev proxy, which costs ~30x the per-request
// work of the Worker itself), next to a baseline Worker that answers a
// constant JSON body: the floor of this harness.
//
//   node bench/server.mjs '<json config>'
// config: { bundleDir, entry, wasm, persistDir, appPort, baselinePort, vars }

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
function capture({ message }) {
  const start = message.indexOf('{"level"');
  if (start < 0) return;
  try {
    const line = JSON.parse(message.slice(start));
    if (line.msg === 'request') {
      lastByRoute[`${line.method} ${line.route}`] = line;
      logLines += 1;
    }
  } catch {
    // not one of ours
  }
}

const mf = new Miniflare(
  convertV4MiniflareOptions({
    handleStructuredLogs: capture,
    resourcePersistencePath: path.join(config.persistDir, 'v3'),
    workers: [
      {
        name: 'app',
        compatibilityDate,
        modulesRoot: config.bundleDir,
        modules: [
          { type: 'ESModule', path: path.join(config.bundleDir, config.entry) },
          { type: 'CompiledWasm', path: path.join(config.bundleDir, config.wasm) },
        ],
        bindings: config.vars,
        d1Databases: { DB: databaseId },
        unsafeDirectSockets: [{ host: '127.0.0.1', port: config.appPort }],
      },
      {
        name: 'baseline',
        compatibilityDate,
        modules: true,
        script: 'export default { fetch() { return Response.json({ ok: true }); } };',
        unsafeDirectSockets: [{ host: '127.0.0.1', port: config.baselinePort }],
      },
    ],
  }),
);
await mf.ready;
process.stdout.write('READY\n');
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  if (chunk.includes('STATS')) process.stdout.write(`STATS ${JSON.stringify({ logLines, lastByRoute })}\n`);
});
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
