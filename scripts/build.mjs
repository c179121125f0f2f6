// Builds the Rust Worker into build/ with worker-build, skipping the build
// when nothing it depends on changed since the last one. Also wrangler's
// [build] command, so `wrangler dev` rebuilds on source changes.

import { existsSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, ROOT, ensureRustTools, hashFiles, log, projectEnv, run } from './lib/toolchain.mjs';

function listFiles(dir) {
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true })
    .map((f) => path.join(abs, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

export function build({ force = false } = {}) {
  const tools = ensureRustTools();
  const inputs = [
    ...['Cargo.toml', 'Cargo.lock', 'core/Cargo.toml', '.cargo/config.toml'].map((f) => path.join(ROOT, f)),
    path.join(ROOT, 'core', 'build.rs'),
    ...listFiles('src'),
    ...listFiles('core/src'),
    // core/build.rs compiles the catalog into the Worker.
    ...listFiles('catalog'),
  ];
  const stampFile = path.join(ROOT, 'build', '.inputs-hash');
  const want = hashFiles(inputs) + JSON.stringify(tools);
  const built = path.join(ROOT, 'build', 'index.js');
  if (!force && existsSync(built) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === want) {
    return;
  }
  log('building the Worker (worker-build --release)');
  run(tools.workerBuild, ['--release'], {
    env: projectEnv({
      // worker-build would download these from hosts this machine cannot reach.
      WASM_BINDGEN_BIN: tools.wasmBindgen,
      WASM_OPT_BIN: path.join(BIN, 'wasm-opt'),
      ESBUILD_BIN: path.join(BIN, 'esbuild'),
    }),
  });
  writeFileSync(stampFile, want);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  // The black-box tests run exactly the build `npm test` made: wrangler
  // dev's [build] step must not rebuild from a tree edited meanwhile.
  if (process.env.CARBON_PREBUILT === '1' && existsSync(path.join(ROOT, 'build', 'index.js'))) {
    process.exit(0);
  }
  build({ force: process.argv.includes('--force') });
}
