// `npm test`: the same set-up as `npm run dev`, then lint, the native unit
// tests (cargo test), the black-box suite against the built Worker in
// workerd (tests/*.test.mjs, on Node 22 for node:sqlite), and schemathesis
// against the OpenAPI document (scripts/schemathesis/).

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { client } from './client.mjs';
import { ensureChromium } from './lib/browser.mjs';
import { SETUP_STEPS, setup } from './setup.mjs';
import { BIN, ROOT, planSteps, projectEnv, run, step } from './lib/toolchain.mjs';

// A fixed seed keeps CI reproducible; other seeds are run by hand.
const SCHEMATHESIS_SEED = '2';
const files = readdirSync(path.join(ROOT, 'tests'))
  .filter((f) => f.endsWith('.test.mjs'))
  .map((f) => path.join('tests', f));
planSteps(SETUP_STEPS + 7);
setup();
step('cargo fmt --check');
run('cargo', ['fmt', '--all', '--check']);
step('cargo clippy (compiles the workspace natively: a few minutes the first time)');
run('cargo', ['clippy', '--workspace', '--all-targets', '--', '-D', 'warnings']);
step('client/: generated types current with the OpenAPI document, type-checked, bundled');
client({ check: true });
step('cargo test (native unit tests)');
run('cargo', ['test', '--workspace']);
step('a browser for the end-to-end test');
ensureChromium();
step(`black-box tests: ${files.length} files, each against the built Worker in workerd (about 10 minutes on 2 cores)`);
// A hung test (or test file) fails after 10 minutes instead of holding CI
// until its limit; the slowest file takes about 80 s on an idle machine and
// under 4 minutes on a loaded one.
run(path.join(BIN, 'node'), ['--test', '--test-reporter=spec', '--test-timeout=600000', ...files], { env: projectEnv() });
step(`schemathesis: the document against the Worker, seed ${SCHEMATHESIS_SEED} (about 2 minutes; any seed: npm run schemathesis -- --seed N)`);
run(path.join(BIN, 'node'), [path.join('scripts', 'schemathesis', 'run.mjs'), '--seed', SCHEMATHESIS_SEED, '--max-examples', '5'], { env: projectEnv() });
