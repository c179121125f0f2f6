// Installs what the build needs, once, and skips what is already there.
//
// Everything here must work on a fresh machine with only Rust and Node: no
// download may come from outside the crates.io and npm registries, so
// wasm-bindgen is built from crates.io at the exact version in Cargo.lock and
// wasm-opt comes from binaryen's npm package (see ../shared/TOOLCHAIN.md).

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
export const BIN = path.join(ROOT, 'node_modules', '.bin');

const STARTED = Date.now();
const elapsed = () => {
  const s = Math.round((Date.now() - STARTED) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

/** A progress line, with the time since the command started. */
export function log(msg) {
  process.stderr.write(`[setup +${elapsed()}] ${msg}\n`);
}

let stepNo = 0;
let stepTotal = 0;
/** Numbers the steps that follow: `[setup +12s] step 3/8: ...`. */
export function planSteps(total) {
  stepTotal = total;
  stepNo = 0;
}
export function step(msg) {
  stepNo += 1;
  log(stepTotal ? `step ${stepNo}/${stepTotal}: ${msg}` : msg);
}

/** [run], then how long it took: for steps that print nothing meanwhile. */
export function runTimed(label, cmd, args, opts = {}) {
  const t = Date.now();
  log(`${label}...`);
  run(cmd, args, opts);
  log(`${label}: done in ${((Date.now() - t) / 1000).toFixed(0)}s`);
}

/** Runs a command, inheriting stdio; throws on failure. */
export function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${res.status}`);
  }
}

function output(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return '';
  }
}

/** PATH with the project's node_modules/.bin first, so `node` is Node 22. */
export function projectEnv(extra = {}) {
  return { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH}`, ...extra };
}

/** npm packages, reinstalled only when package-lock.json changed. */
export function ensureNodeModules() {
  const lock = path.join(ROOT, 'package-lock.json');
  const stamp = path.join(ROOT, 'node_modules', '.carbon-lock-hash');
  const want = hashFiles([lock]);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(path.join(BIN, 'wrangler'))) {
    return;
  }
  // `npm install`, not `npm ci`: the registry reachable here lacks workerd's
  // macOS and Windows builds, so the lock file cannot list them and `npm ci`
  // refuses it as out of sync. Versions are pinned exactly in package.json.
  log('installing npm packages');
  run('npm', ['install', '--no-audit', '--no-fund']);
  writeFileSync(stamp, want);
}

function lockedVersion(crate) {
  const lock = readFileSync(path.join(ROOT, 'Cargo.lock'), 'utf8');
  const m = lock.match(new RegExp(`\\[\\[package\\]\\]\\nname = "${crate}"\\nversion = "([^"]+)"`));
  if (!m) throw new Error(`${crate} is not in Cargo.lock`);
  return m[1];
}

export function ensureWasmTarget() {
  if (output('rustup', ['target', 'list', '--installed']).split('\n').includes('wasm32-unknown-unknown')) return;
  log('adding the wasm32-unknown-unknown Rust target');
  run('rustup', ['target', 'add', 'wasm32-unknown-unknown']);
}

/**
 * A cargo-installed tool at an exact version. Uses the one on PATH when its
 * version matches; otherwise installs it into a versioned folder under cargo's
 * home, shared by every clone on this machine and never clobbering another
 * project's copy.
 */
function ensureCargoTool({ crate, bin, version }) {
  // `worker-build --version` prints "0.8.7", `wasm-bindgen --version`
  // "wasm-bindgen 0.2.130": compare the last word.
  const onPath = output(bin, ['--version']).trim().split(/\s+/).at(-1);
  if (onPath === version) return bin;
  const cargoHome = process.env.CARGO_HOME || path.join(homedir(), '.cargo');
  const root = path.join(cargoHome, 'carbon-tools', `${crate}-${version}`);
  const exe = path.join(root, 'bin', bin);
  if (existsSync(exe)) return exe;
  log(`building ${crate} ${version} from crates.io (several minutes, once per machine)`);
  mkdirSync(root, { recursive: true });
  // Not --locked: one of wasm-bindgen-cli's locked dependency versions is
  // missing from the registry index.
  run('cargo', ['install', crate, '--version', version, '--root', root]);
  return exe;
}

export function ensureRustTools() {
  ensureWasmTarget();
  const workerBuild = ensureCargoTool({ crate: 'worker-build', bin: 'worker-build', version: lockedVersion('worker') });
  const wasmBindgen = ensureCargoTool({
    crate: 'wasm-bindgen-cli',
    bin: 'wasm-bindgen',
    version: lockedVersion('wasm-bindgen'),
  });
  return { workerBuild, wasmBindgen };
}

/**
 * Stable hash of the given files' contents (missing files hash as empty),
 * keyed by their paths relative to the project root: a moved or copied
 * checkout is still up to date.
 */
export function hashFiles(files) {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(path.relative(ROOT, f));
    h.update(existsSync(f) ? readFileSync(f) : '');
  }
  return h.digest('hex');
}
