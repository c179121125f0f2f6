// `npm run deploy`: deploys [env.production] of wrangler.toml, refusing
// before anything reaches Cloudflare when production is not set up.
//
//   npm run deploy                 check, apply D1 migrations remotely, deploy
//   npm run deploy -- --check      only say what is missing
//   npm run deploy -- --dry-run    bundle for production as `wrangler deploy`
//                                  would and check Workers' size limits (no
//                                  account needed; `npm test` runs this)
//
// The checks are the ones the Worker itself applies in production
// (core/src/deployment.rs): a Worker deployed without them would answer
// every request with a 500.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parse } from 'smol-toml';
import { setup } from './setup.mjs';
import { BIN, ROOT, log, projectEnv, run } from './lib/toolchain.mjs';

/** Workers' limits on the uploaded bundle, gzip-compressed (free and paid plans). */
export const SIZE_LIMITS = { free: 3 * 1024 * 1024, paid: 10 * 1024 * 1024 };
const PLACEHOLDER_DB = '00000000-0000-4000-8000-000000000000';
/** Secrets production needs, besides those of the OAuth providers in use. */
const SECRETS = ['ENCRYPTION_KEY'];

const httpsOrigin = (v) => /^https:\/\/[^/\s]+$/.test(v) && !/localhost|127\.0\.0\.1/.test(v);
const list = (v) => String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/**
 * What stops `config` (wrangler.toml, parsed) from deploying to production,
 * given the names of the secrets put (null: not known). Empty when ready.
 */
export function readiness(config, secrets = null) {
  const prod = config.env?.production;
  if (!prod) return ['wrangler.toml has no [env.production]'];
  const vars = prod.vars ?? {};
  const problems = [];
  if (vars.ENVIRONMENT !== 'production') problems.push('[env.production.vars] ENVIRONMENT must be "production"');
  for (const name of ['PUBLIC_BASE_URL', 'FRONTEND_ORIGIN']) {
    if (!httpsOrigin(String(vars[name] ?? ''))) {
      problems.push(`[env.production.vars] ${name} must be the https:// origin ${name === 'PUBLIC_BASE_URL' ? 'this Worker is reached at' : 'the frontend is served from'} (not localhost), not ${JSON.stringify(vars[name] ?? '')}`);
    }
  }
  const origins = list(vars.ALLOWED_ORIGINS);
  if (origins.length === 0 || !origins.every(httpsOrigin)) {
    problems.push(`[env.production.vars] ALLOWED_ORIGINS must list the frontend's https:// origins, not ${JSON.stringify(vars.ALLOWED_ORIGINS ?? '')}`);
  }
  if (!list(vars.CLERK_AUTHORIZED_PARTIES).every(httpsOrigin)) {
    problems.push('[env.production.vars] CLERK_AUTHORIZED_PARTIES must hold https:// origins only');
  }
  if ('TEST_PANIC_ROUTE' in vars) problems.push('[env.production.vars] must not set TEST_PANIC_ROUTE');
  const db = (prod.d1_databases ?? []).find((d) => d.binding === 'DB');
  if (!db) problems.push('[[env.production.d1_databases]] has no DB binding');
  else if (!db.database_id || db.database_id === PLACEHOLDER_DB) {
    problems.push('[[env.production.d1_databases]] database_id is the local placeholder: run `npx wrangler d1 create carbon-integrations` and put the id it prints');
  }
  if (secrets) {
    const has = (name) => secrets.includes(name) || (vars[name] !== undefined && vars[name] !== '');
    for (const name of SECRETS) if (!has(name)) problems.push(`secret ${name} is not put: npx wrangler secret put ${name} --env production`);
    if (!has('CLERK_ISSUER')) problems.push('CLERK_ISSUER is neither a secret nor a var: npx wrangler secret put CLERK_ISSUER --env production');
    if (!has('CLERK_JWT_KEY') && !has('CLERK_JWKS_URL')) {
      problems.push('Clerk keys: put the secret CLERK_JWT_KEY (PEM) or set the var CLERK_JWKS_URL');
    }
  }
  return problems;
}

function wrangler(args, { env = {} } = {}) {
  return run(path.join(BIN, 'wrangler'), args, { env: projectEnv(env) });
}

/** Bundles for production into a temporary folder; returns the gzip sizes. */
export function dryRun() {
  const outdir = mkdtempSync(path.join(tmpdir(), 'carbon-deploy-'));
  try {
    // The build `npm test` or `npm run deploy` just made is the one bundled.
    wrangler(['deploy', '--dry-run', '--env', 'production', '--outdir', outdir], { env: { CARBON_PREBUILT: '1' } });
    const files = readdirSync(outdir).filter((f) => /\.(m?js|wasm)$/.test(f));
    const sizes = Object.fromEntries(
      files.map((f) => {
        const bytes = readFileSync(path.join(outdir, f));
        return [f, { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }];
      }),
    );
    const total = Object.values(sizes).reduce((n, s) => n + s.gzip, 0);
    return { sizes, gzipTotal: total, hasWasm: files.some((f) => f.endsWith('.wasm')) };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function main(argv) {
  const config = parse(readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'));
  if (argv.includes('--dry-run')) {
    // The black-box suite bundles the build `npm test` just made.
    if (process.env.CARBON_PREBUILT !== '1') setup();
    const result = dryRun();
    const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
    log(`production bundle: ${Object.entries(result.sizes).map(([f, s]) => `${f} ${kb(s.gzip)} gzip`).join(', ')}; total ${kb(result.gzipTotal)} of the free plan's ${kb(SIZE_LIMITS.free)}`);
    if (!result.hasWasm) throw new Error('the production bundle has no wasm module');
    if (result.gzipTotal > SIZE_LIMITS.free) throw new Error(`the bundle (${kb(result.gzipTotal)} gzip) is over the free plan's limit`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  // Settings first: they need no network. Then, when deploying, the secrets
  // put on Cloudflare (needs `npx wrangler login` or CLOUDFLARE_API_TOKEN).
  refuseIf(readiness(config));
  if (!argv.includes('--check')) {
    const listed = spawnJson(['secret', 'list', '--env', 'production', '--format', 'json']);
    if (!listed.ok) refuseIf([`could not list the production secrets (is \`npx wrangler login\` done?): ${listed.error}`]);
    refuseIf(readiness(config, listed.value.map((s) => s.name)));
  }
  if (argv.includes('--check')) {
    log('production settings look complete (secrets are checked when deploying)');
    return;
  }
  setup();
  log('applying D1 migrations to the production database');
  wrangler(['d1', 'migrations', 'apply', 'DB', '--remote', '--env', 'production']);
  log('deploying');
  wrangler(['deploy', '--env', 'production'], { env: { CARBON_PREBUILT: '1' } });
}

function refuseIf(problems) {
  if (problems.length === 0) return;
  console.error(`deploy refused: production is not set up (README, "Deploying"):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}

function spawnJson(args) {
  try {
    const out = execFileSync(path.join(BIN, 'wrangler'), args, { cwd: ROOT, env: projectEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, value: JSON.parse(out) };
  } catch (err) {
    return { ok: false, error: String(err.stderr || err.message).trim().slice(0, 2000) };
  }
}


if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`deploy: ${err.message}`);
    process.exit(1);
  }
}
