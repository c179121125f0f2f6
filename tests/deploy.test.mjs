// The deploy path: `npm run deploy` refuses while production is not set up
// (before reaching Cloudflare), accepts a complete setup, and the production
// bundle `wrangler deploy --env production` would upload is built here and
// stays under Workers' size limit.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'smol-toml';
import { SIZE_LIMITS, readiness } from '../scripts/deploy.mjs';
import { BIN, ROOT, projectEnv } from '../scripts/lib/toolchain.mjs';

const toml = () => parse(readFileSync(new URL('../wrangler.toml', import.meta.url), 'utf8'));

/** wrangler.toml as an operator would have filled it in. */
function filledIn() {
  const config = toml();
  Object.assign(config.env.production.vars, {
    PUBLIC_BASE_URL: 'https://api.example.com',
    FRONTEND_ORIGIN: 'https://app.example.com',
    ALLOWED_ORIGINS: 'https://app.example.com, https://www.example.com',
    CLERK_AUTHORIZED_PARTIES: 'https://app.example.com',
  });
  config.env.production.d1_databases[0].database_id = '5b0e2c1e-9d7a-4a53-8a8e-0f3c5a1d2b4c';
  return config;
}

test('the repository as cloned is not deployable, and says why', () => {
  const problems = readiness(toml());
  for (const name of ['PUBLIC_BASE_URL', 'FRONTEND_ORIGIN', 'ALLOWED_ORIGINS', 'database_id']) {
    assert.ok(problems.some((p) => p.includes(name)), `${name} not reported: ${problems.join(' | ')}`);
  }
  // Production carries none of the local defaults.
  const vars = toml().env.production.vars;
  assert.equal(vars.ENVIRONMENT, 'production');
  assert.ok(!Object.values(vars).some((v) => String(v).includes('localhost')));
});

test('npm run deploy refuses before reaching Cloudflare', () => {
  const res = spawnSync(process.execPath, ['scripts/deploy.mjs'], { cwd: ROOT, env: projectEnv(), encoding: 'utf8', timeout: 60_000 });
  assert.equal(res.status, 1, res.stdout + res.stderr);
  assert.match(res.stderr, /deploy refused: production is not set up/);
  assert.match(res.stderr, /PUBLIC_BASE_URL/);
  assert.doesNotMatch(res.stdout + res.stderr, /Uploaded|Deployed|migrations/i);
});

test('a complete setup passes; each missing or unsafe setting is named', () => {
  const secrets = ['ENCRYPTION_KEY', 'CLERK_ISSUER', 'CLERK_JWT_KEY'];
  assert.deepEqual(readiness(filledIn(), secrets), []);
  assert.deepEqual(readiness(filledIn()), [], 'settings alone (secrets unknown)');
  const cases = [
    [(c) => (c.env.production.vars.FRONTEND_ORIGIN = 'http://app.example.com'), /FRONTEND_ORIGIN/],
    [(c) => (c.env.production.vars.ALLOWED_ORIGINS = 'https://app.example.com,http://localhost:4321'), /ALLOWED_ORIGINS/],
    [(c) => (c.env.production.vars.PUBLIC_BASE_URL = 'https://localhost'), /PUBLIC_BASE_URL/],
    [(c) => (c.env.production.vars.TEST_PANIC_ROUTE = 'enabled'), /TEST_PANIC_ROUTE/],
    [(c) => (c.env.production.vars.ENVIRONMENT = 'staging'), /ENVIRONMENT/],
    [(c) => (c.env.production.d1_databases = []), /DB binding/],
  ];
  for (const [change, expected] of cases) {
    const config = filledIn();
    change(config);
    const problems = readiness(config, secrets);
    assert.equal(problems.length, 1, `${expected}: ${problems.join(' | ')}`);
    assert.match(problems[0], expected);
  }
  assert.match(readiness(filledIn(), ['CLERK_ISSUER', 'CLERK_JWT_KEY']).join(), /ENCRYPTION_KEY/);
  assert.match(readiness(filledIn(), ['ENCRYPTION_KEY', 'CLERK_ISSUER']).join(), /CLERK_JWT_KEY/);
  const jwks = filledIn();
  jwks.env.production.vars.CLERK_JWKS_URL = 'https://clerk.example.com/.well-known/jwks.json';
  assert.deepEqual(readiness(jwks, ['ENCRYPTION_KEY', 'CLERK_ISSUER']), []);
});

test('the production bundle builds (wrangler deploy --dry-run --env production) under the size limit', () => {
  const res = spawnSync(`${BIN}/node`, ['scripts/deploy.mjs', '--dry-run'], { cwd: ROOT, env: projectEnv({ CARBON_PREBUILT: '1' }), encoding: 'utf8', timeout: 600_000 });
  assert.equal(res.status, 0, res.stdout + res.stderr);
  const result = JSON.parse(res.stdout.trim().split('\n').at(-1));
  assert.ok(result.hasWasm);
  assert.ok(result.gzipTotal > 100_000, `implausibly small bundle: ${result.gzipTotal}`);
  assert.ok(result.gzipTotal < SIZE_LIMITS.free, `${result.gzipTotal} B gzip is over the free plan's ${SIZE_LIMITS.free}`);
});
