// `npm test`: the same set-up as `npm run dev`, then lint, the native unit
// tests (cargo test) and the black-box suite against the built Worker in
// workerd (tests/*.test.mjs, on Node 22 for node:sqlite).

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { client } from './client.mjs';
import { ensureChromium } from './lib/browser.mjs';
import { setup } from './setup.mjs';
import { BIN, ROOT, log, projectEnv, run } from './lib/toolchain.mjs';

setup();
log('cargo fmt --check');
run('cargo', ['fmt', '--all', '--check']);
log('cargo clippy');
run('cargo', ['clippy', '--workspace', '--all-targets', '--', '-D', 'warnings']);
log('client/: generated types current with the OpenAPI document, and type-checked');
client({ check: true });
log('cargo test (native unit tests)');
run('cargo', ['test', '--workspace']);
ensureChromium();
log('black-box tests (workerd)');
const files = readdirSync(path.join(ROOT, 'tests'))
  .filter((f) => f.endsWith('.test.mjs'))
  .map((f) => path.join('tests', f));
// A hung test (or test file) fails after 10 minutes instead of holding CI
// until its limit; the slowest file takes about 80 s on an idle machine and
// under 4 minutes on a loaded one.
run(path.join(BIN, 'node'), ['--test', '--test-reporter=spec', '--test-timeout=600000', ...files], { env: projectEnv() });
