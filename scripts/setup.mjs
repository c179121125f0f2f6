// The set-up shared by `npm run dev`, `npm test` and `npm run bench`:
// npm packages, Rust tools, local secrets, the built Worker.

import { pathToFileURL } from 'node:url';
import { build } from './build.mjs';
import { ensureDevVars } from './lib/devvars.mjs';
import { ensureNodeModules } from './lib/toolchain.mjs';

export function setup() {
  ensureNodeModules();
  ensureDevVars();
  build();
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  setup();
}
