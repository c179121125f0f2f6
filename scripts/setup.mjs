// The set-up shared by `npm run dev`, `npm test` and `npm run bench`:
// npm packages, Rust tools, local secrets, the built Worker.

import { pathToFileURL } from 'node:url';
import { build } from './build.mjs';
import { ensureDevVars } from './lib/devvars.mjs';
import { ensureNodeModules, step } from './lib/toolchain.mjs';

/** The set-up's steps, for callers numbering their own after them. */
export const SETUP_STEPS = 3;

export function setup() {
  step('npm packages (installed when package-lock.json changed)');
  ensureNodeModules();
  ensureDevVars();
  step('Rust tools and the Worker (built when an input changed)');
  build();
  step('set-up done');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  setup();
}
