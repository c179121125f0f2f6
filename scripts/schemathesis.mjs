// `npm run schemathesis`: the property-based API tester against the built
// Worker, as a new user of the document would run it. Schemathesis (PyPI,
// pinned) is installed into .cache/schemathesis once; the Worker runs under
// workerd with local D1 and the suite's fake providers on loopback, and the
// run signs in as one user. Not yet part of `npm test`: issue 13 lists what
// it still reports.
//
//   npm run schemathesis -- [--seed N] [--max-examples N] [extra schemathesis args]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, log } from './lib/toolchain.mjs';
import { newIssuer, workerVars } from '../tests/helpers/auth.mjs';
import { startWorker } from '../tests/helpers/worker.mjs';
import { anthropic, octopus, openai } from '../tests/fakes/keyed.mjs';
import { enphase } from '../tests/fakes/enphase.mjs';
import { xero } from '../tests/fakes/xero.mjs';

const VERSION = '4.32.5';
const VENV = path.join(ROOT, '.cache', 'schemathesis');
const ST = path.join(VENV, 'bin', 'schemathesis');

function ensureSchemathesis() {
  const have = existsSync(ST) && spawnSync(ST, ['--version'], { encoding: 'utf8' }).stdout.includes(VERSION);
  if (have) return;
  log(`installing schemathesis ${VERSION} into .cache/schemathesis (PyPI, once)`);
  mkdirSync(path.dirname(VENV), { recursive: true });
  for (const [cmd, args] of [
    ['python3', ['-m', 'venv', VENV]],
    [path.join(VENV, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${VERSION}`]],
  ]) {
    const res = spawnSync(cmd, args, { stdio: 'inherit' });
    if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
  }
}

ensureSchemathesis();
const issuer = newIssuer();
const fakes = {
  octo: await octopus({ accounts: { 'A-1B2C3D4E': { key: 'sk_live_abcdefghijklmnopqrstuvwx', mpan: '1012345678901' } } }),
  oai: await openai({ adminKeys: ['sk-admin-Qq1Rr2Ss3Tt4Uu5Vv6Ww7Xx8'] }),
  ant: await anthropic({ adminKeys: ['sk-ant-admin01-abc'] }),
  xr: await xero({ clientId: 'xero-client', clientSecret: 'xero-secret' }),
  en: await enphase({ clientId: 'enphase-client', clientSecret: 'enphase-secret', apiKey: 'enphase-app-key' }),
};
const secret = (n) => `whsec_${Buffer.alloc(24, n).toString('base64')}`;
const worker = await startWorker({
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
    XERO_WEBHOOK_KEY: 'xero-webhook-key-for-schemathesis',
    OCTOPUS_ENERGY_WEBHOOK_SECRETS: secret(3),
    BRITISH_GAS_WEBHOOK_SECRETS: secret(4),
  }),
});
let status = 1;
try {
  const token = issuer.token('user_schemathesis', { ttlSeconds: 6 * 3600 });
  const args = ['run', `${worker.url}/api/v1/openapi.json`, '-H', `Authorization: Bearer ${token}`, '--no-color', ...process.argv.slice(2)];
  // schemathesis.toml (the project root) says which rules no schema can state.
  status = spawnSync(ST, args, { stdio: 'inherit', cwd: ROOT }).status ?? 1;
} finally {
  await worker.stop();
  await Promise.all(Object.values(fakes).map((f) => f.close()));
}
process.exit(status);
