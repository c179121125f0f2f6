// Builds the Rust Worker into build/ with worker-build, skipping the build
// when nothing it depends on changed since the last one. Also wrangler's
// [build] command, so `wrangler dev` rebuilds on source changes.

import { existsSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, ROOT, ensureRustTools, hashFiles, log, projectEnv, run, runTimed } from './lib/toolchain.mjs';

function listFiles(dir) {
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true })
    .map((f) => path.join(abs, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

/** wasm-opt's feature flags for a workers-rs module (worker-build's own set). */
const WASM_FEATURES = [
  'mutable-globals',
  'sign-ext',
  'nontrapping-float-to-int',
  'bulk-memory',
  'multivalue',
  'reference-types',
  'exception-handling',
].map((f) => `--enable-${f}`);

/**
 * worker-build --release in `crateDir` (output in `crateDir/build`), then
 * drops the wasm's names section and producers: worker-build passes
 * wasm-opt `--debuginfo`, which keeps a names section of about a seventh of
 * the module, and nothing reads it in production (a panic's message is
 * logged in full; its stack shows function indexes instead of names).
 */
export function workerBuild(crateDir, tools) {
  log('worker-build --release: cargo compiles the crates (a line per crate; about 3 minutes from scratch on 2 cores), then wasm-bindgen, wasm-opt -Oz (a minute or two, silent) and esbuild');
  const t = Date.now();
  run(tools.workerBuild, ['--release'], {
    cwd: crateDir,
    env: projectEnv({
      // worker-build would download these from hosts this machine cannot reach.
      WASM_BINDGEN_BIN: tools.wasmBindgen,
      WASM_OPT_BIN: path.join(BIN, 'wasm-opt'),
      ESBUILD_BIN: path.join(BIN, 'esbuild'),
    }),
  });
  const wasm = path.join(crateDir, 'build', 'index_bg.wasm');
  log(`worker-build: done in ${((Date.now() - t) / 1000).toFixed(0)}s`);
  runTimed('stripping the names section (wasm-opt)', path.join(BIN, 'wasm-opt'), [wasm, '-o', wasm, '--strip-debug', '--strip-producers', ...WASM_FEATURES]);
}

export function build({ force = false } = {}) {
  const tools = ensureRustTools();
  const inputs = [
    ...['Cargo.toml', 'Cargo.lock', 'core/Cargo.toml', '.cargo/config.toml'].map((f) => path.join(ROOT, f)),
    path.join(ROOT, 'core', 'build.rs'),
    ...listFiles('src'),
    ...listFiles('core/src'),
    // core/build.rs compiles the catalog and the emission factors into the Worker.
    ...listFiles('catalog'),
    ...listFiles('factors'),
    path.join(ROOT, 'scripts', 'build.mjs'),
  ];
  const stampFile = path.join(ROOT, 'build', '.inputs-hash');
  const want = hashFiles(inputs) + JSON.stringify(tools);
  const built = path.join(ROOT, 'build', 'index.js');
  if (!force && existsSync(built) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === want) {
    return;
  }
  log('building the Worker (worker-build --release)');
  workerBuild(ROOT, tools);
  writeFileSync(stampFile, want);
}

/** The bench's Rust floor (bench/floor), built as the Worker is; returns its build folder. */
export function buildFloor() {
  const tools = ensureRustTools();
  const dir = path.join(ROOT, 'bench', 'floor');
  const inputs = [
    ...['Cargo.toml', 'Cargo.lock', '.cargo/config.toml', 'scripts/build.mjs'].map((f) => path.join(ROOT, f)),
    ...listFiles('bench/floor/src'),
    path.join(dir, 'Cargo.toml'),
  ];
  const stampFile = path.join(dir, 'build', '.inputs-hash');
  const want = hashFiles(inputs) + JSON.stringify(tools);
  if (!existsSync(path.join(dir, 'build', 'index.js')) || !existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== want) {
    log('building the Rust floor Worker (bench/floor, worker-build --release)');
    workerBuild(dir, tools);
    writeFileSync(stampFile, want);
  }
  return path.join(dir, 'build');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  // The black-box tests run exactly the build `npm test` made: wrangler
  // dev's [build] step must not rebuild from a tree edited meanwhile.
  if (process.env.CARBON_PREBUILT === '1' && existsSync(path.join(ROOT, 'build', 'index.js'))) {
    process.exit(0);
  }
  build({ force: process.argv.includes('--force') });
}
