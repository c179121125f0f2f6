// Starts the built Worker under `wrangler dev` (workerd) with a fresh local
// D1 migrated from migrations/, and captures everything it logs.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN, ROOT, projectEnv } from '../../scripts/lib/toolchain.mjs';
import { envLine } from '../../scripts/lib/devvars.mjs';
import { until } from './clock.mjs';
import { checkedFetch } from './contract.mjs';

const WRANGLER = path.join(BIN, 'wrangler');

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Waits for the Worker to answer its health check with `ready`; false if
 * wrangler exited first. */
async function started(child, url, output, ready) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) return false;
    try {
      const res = await fetch(`${url}/api/v1/health`);
      if (res.status === ready) return true;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`worker did not start:\n${output.join('')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * @param {object} opts
 * @param {Record<string,string>|null} opts.vars  env for the Worker (an env
 *   file replacing .dev.vars); null uses the developer's .dev.vars as
 *   `npm run dev` does.
 * @param {number} opts.ready  the health status that means "started" (a
 *   Worker configured to refuse service answers 500).
 * @param {string|null} opts.config  a wrangler config to use instead of
 *   wrangler.toml (paths in it absolute).
 */
export async function startWorker({ vars = null, persistDir = null, ready = 200, config = null } = {}) {
  // Reusing a persist dir runs a second Worker over the first one's D1.
  const dir = persistDir ?? mkdtempSync(path.join(tmpdir(), 'carbon-worker-'));
  // Serve the build `npm test` made, even if the tree changes meanwhile.
  const env = projectEnv({ CARBON_PREBUILT: '1' });
  const configArgs = config ? ['--config', config] : [];
  const migrate = spawnSync(WRANGLER, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', dir, ...configArgs], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);

  const common = ['--persist-to', dir, '--show-interactive-dev-session=false', '--test-scheduled', ...configArgs];
  if (vars) {
    const envFile = path.join(dir, 'test.env');
    writeFileSync(envFile, Object.entries(vars).map(([k, v]) => envLine(k, v)).join('\n') + '\n');
    common.push('--env-file', envFile);
  }
  // A free port is closed before wrangler binds it, and another process
  // may take it meanwhile: wrangler then exits naming it, and gets others.
  let child, url, output;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()), ...common];
    child = spawn(WRANGLER, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    output = [];
    child.stdout.on('data', (d) => output.push(d.toString()));
    child.stderr.on('data', (d) => output.push(d.toString()));
    url = `http://127.0.0.1:${port}`;
    const closed = new Promise((r) => child.once('close', r));
    if (await started(child, url, output, ready)) break;
    await closed; // all it printed is in
    if (attempt === 3 || !/Address already in use/.test(output.join(''))) {
      throw new Error(`wrangler dev exited:\n${output.join('')}`);
    }
  }

  const logLines = () =>
    output
      .join('')
      .replace(/\x1b\[[0-9;]*m/g, '')
      .split('\n')
      .map((l) => l.slice(l.indexOf('{"level"')))
      .filter((l) => l.startsWith('{"level"'))
      .map((l) => JSON.parse(l));

  return {
    url,
    persistDir: dir,
    /** Everything wrangler and the Worker printed so far. */
    logs: () => output.join(''),
    /** The Worker's own JSON log lines (wrangler wraps console.error ones
     * in colour codes and an "[ERROR]" prefix, which are dropped). */
    logLines,
    /** The first log line of a request that `matches`, once it has come:
     * lines reach wrangler's output apart from the response, so after it
     * the line may still be on its way. */
    async logLine(requestId, matches = () => true) {
      let line;
      await until(() => (line = logLines().find((l) => l.request_id === requestId && matches(l))), `a log line for request ${requestId}`);
      return line;
    },
    /** fetch against the Worker; every response is checked against the
     * OpenAPI document (tests/helpers/contract.mjs) and a mismatch throws. */
    fetch: checkedFetch(url),
    /** Runs the cron handler, as the scheduler would. */
    scheduled: (cron) => fetch(`${url}/__scheduled?cron=${encodeURIComponent(cron)}`),
    async stop({ keepData = false } = {}) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      if (!keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}
