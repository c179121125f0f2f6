// `npm run schemathesis`: the property-based API tester against the built
// Worker, as a new user of the document would run it. Schemathesis (PyPI,
// pinned) is installed into .cache/schemathesis once; the Worker runs under
// workerd with local D1 and the suite's fake providers on loopback, and the
// run signs in as one user.
//
// What the run configures, and why:
// - schemathesis.toml (the project root): the rules no schema can state;
// - hooks.py (next to this file): webhook signatures and OAuth states, the
//   secrets and server-issued values a real caller has;
// - the abuse brakes (wrangler.toml's rate limits) raised a hundredfold: one
//   generated user sends thousands of requests a minute, and a 429 says
//   nothing about the request. The brakes have their own black-box tests.
//
//   npm run schemathesis -- [--seed N] [--max-examples N] [extra schemathesis args]

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'smol-toml';
import { aptInstall } from '../lib/apt.mjs';
import { ROOT, log } from '../lib/toolchain.mjs';
import { CREDENTIALS, OCTOPUS, bindings, fixtures, testerConfig } from './fixtures.mjs';
import { newIssuer, workerVars } from '../../tests/helpers/auth.mjs';
import { startWorker } from '../../tests/helpers/worker.mjs';
import { userClient } from '../../tests/helpers/http.mjs';
import { anthropic, octopus, openai } from '../../tests/fakes/keyed.mjs';
import { enphase } from '../../tests/fakes/enphase.mjs';
import { xero } from '../../tests/fakes/xero.mjs';

const VERSION = '4.32.5';
const VENV = path.join(ROOT, '.cache', 'schemathesis');
const ST = path.join(VENV, 'bin', 'schemathesis');

function ensureSchemathesis() {
  const have = existsSync(ST) && spawnSync(ST, ['--version'], { encoding: 'utf8' }).stdout.includes(VERSION);
  if (have) return;
  log(`installing schemathesis ${VERSION} into .cache/schemathesis (PyPI, once)`);
  mkdirSync(path.dirname(VENV), { recursive: true });
  const venv = () => spawnSync('python3', ['-m', 'venv', '--clear', VENV], { stdio: 'inherit' }).status === 0;
  // Debian splits venv out of python3.
  if (!venv() && !(aptInstall(['python3-venv'], 'schemathesis') && venv())) {
    throw new Error('python3 -m venv failed: install python3 and python3-venv');
  }
  const pip = spawnSync(path.join(VENV, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${VERSION}`], { stdio: 'inherit' });
  if (pip.status !== 0) throw new Error(`pip install schemathesis==${VERSION} failed`);
}

/** wrangler.toml with the rate limits raised and its paths absolute. */
function runConfig() {
  const config = parse(readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'));
  delete config.env;
  delete config.build;
  config.main = path.join(ROOT, config.main);
  for (const db of config.d1_databases) db.migrations_dir = path.join(ROOT, db.migrations_dir);
  for (const limit of config.ratelimits) limit.simple.limit *= 100;
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'carbon-st-')), 'wrangler.toml');
  writeFileSync(file, stringify(config));
  return file;
}

ensureSchemathesis();
const USER = 'user_schemathesis';
const issuer = newIssuer();
const fakes = {
  octo: await octopus({ accounts: { [OCTOPUS.account_number]: { key: OCTOPUS.api_key, mpan: OCTOPUS.mpan } } }),
  oai: await openai({ adminKeys: [CREDENTIALS.openai.admin_key] }),
  ant: await anthropic({ adminKeys: [CREDENTIALS.anthropic.admin_key] }),
  xr: await xero({ clientId: 'xero-client', clientSecret: 'xero-secret' }),
  en: await enphase({ clientId: 'enphase-client', clientSecret: 'enphase-secret', apiKey: 'enphase-app-key' }),
};
const secret = (n) => `whsec_${Buffer.alloc(24, n).toString('base64')}`;
const XERO_KEY = 'xero-webhook-key-for-schemathesis';
const worker = await startWorker({
  config: runConfig(),
  vars: workerVars(issuer, {
    OCTOPUS_API_BASE: fakes.octo.url,
    OPENAI_API_BASE: fakes.oai.url,
    ANTHROPIC_API_BASE: fakes.ant.url,
    ...fakes.xr.vars,
    ENPHASE_CLIENT_ID: 'enphase-client',
    ENPHASE_CLIENT_SECRET: 'enphase-secret',
    ENPHASE_API_KEY: 'enphase-app-key',
    ENPHASE_AUTHORIZE_URL: `${fakes.en.url}/oauth/authorize`,
    ENPHASE_TOKEN_URL: `${fakes.en.url}/oauth/token`,
    ENPHASE_API_BASE: fakes.en.url,
    XERO_WEBHOOK_KEY: XERO_KEY,
    OCTOPUS_ENERGY_WEBHOOK_SECRETS: secret(3),
    BRITISH_GAS_WEBHOOK_SECRETS: secret(4),
  }),
});
let status = 1;
try {
  const token = issuer.token(USER, { ttlSeconds: 6 * 3600 });
  const made = await fixtures(userClient(() => worker, issuer), USER);
  const args = ['--config-file', testerConfig(made), 'run', `${worker.url}/api/v1/openapi.json`, '-H', `Authorization: Bearer ${token}`, '--no-color', ...process.argv.slice(2)];
  // schemathesis.toml (the project root) says which rules no schema can
  // state; testerConfig adds the fixtures' ids (fixtures.mjs).
  const env = {
    ...process.env,
    PYTHONPATH: path.dirname(new URL(import.meta.url).pathname),
    SCHEMATHESIS_HOOKS: 'hooks',
    CARBON_ST_BASE: worker.url,
    CARBON_ST_TOKEN: token,
    CARBON_ST_OCTOPUS_SECRET: secret(3),
    CARBON_ST_BRITISH_GAS_SECRET: secret(4),
    CARBON_ST_XERO_KEY: XERO_KEY,
    CARBON_ST_ENDPOINTS: JSON.stringify({ [made.endpoint.source]: made.endpoint.secret }),
    CARBON_ST_BINDINGS: JSON.stringify(bindings(made)),
    CARBON_ST_FIXTURES: JSON.stringify({ synced: made.synced, keyed: made.keyed, files: made.files, typed: made.typed }),
    CARBON_ST_CREDENTIALS: JSON.stringify(CREDENTIALS),
  };
  // Asynchronously: the fake providers answer from this process's event loop.
  const child = spawn(ST, args, { stdio: 'inherit', cwd: ROOT, env });
  status = await new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  // A server error is a bug: show what the Worker logged about it.
  const errors = worker.logLines().filter((l) => l.level === 'error' || l.status >= 500);
  for (const line of errors.slice(0, 20)) console.error(JSON.stringify(line));
} finally {
  await worker.stop();
  await Promise.all(Object.values(fakes).map((f) => f.close()));
}
process.exit(status);
