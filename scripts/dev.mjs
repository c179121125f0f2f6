// `npm run dev`: set up what is missing, migrate the local D1, serve the API
// with `wrangler dev` on localhost (PORT overrides 8787).

import { spawn } from 'node:child_process';
import path from 'node:path';
import { setup } from './setup.mjs';
import { BIN, ROOT, projectEnv, run } from './lib/toolchain.mjs';

setup();
const wrangler = path.join(BIN, 'wrangler');
run(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local'], { env: projectEnv() });
const port = process.env.PORT || '8787';
const child = spawn(wrangler, ['dev', '--port', port], { cwd: ROOT, stdio: 'inherit', env: projectEnv() });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code) => process.exit(code ?? 0));
