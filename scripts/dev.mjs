// `npm run dev`: set up what is missing, migrate the local D1, serve the API
// with `wrangler dev` on localhost (PORT overrides 8787).

import { spawn } from 'node:child_process';
import path from 'node:path';
import { SETUP_STEPS, setup } from './setup.mjs';
import { BIN, ROOT, planSteps, projectEnv, run, step } from './lib/toolchain.mjs';

planSteps(SETUP_STEPS + 2);
setup();
step('local D1 migrations');
const wrangler = path.join(BIN, 'wrangler');
run(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local'], { env: projectEnv() });
const port = process.env.PORT || '8787';
step(`wrangler dev on http://localhost:${port}`);
const child = spawn(wrangler, ['dev', '--port', port], { cwd: ROOT, stdio: 'inherit', env: projectEnv() });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code) => process.exit(code ?? 0));
