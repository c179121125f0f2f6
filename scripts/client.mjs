// `npm run client`: regenerates client/schema.d.ts from the OpenAPI document
// (openapi-typescript), type-checks the client against it (tsc) and bundles
// it for pages without a bundler (client/dist/carbon-client.js, esbuild).
// `--check` (what `npm test` runs) changes nothing: it fails when the
// committed types differ from what the document generates, or when the
// client, its examples or its type tests no longer compile.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, ROOT, log, run } from './lib/toolchain.mjs';

const DOCUMENT = path.join(ROOT, 'core', 'src', 'openapi.json');
const TYPES = path.join(ROOT, 'client', 'schema.d.ts');
export const BUNDLE = path.join(ROOT, 'client', 'dist', 'carbon-client.js');

/** client/browser.ts as one ES module for pages without a bundler (examples/). */
export function bundle() {
  run(path.join(BIN, 'esbuild'), [path.join(ROOT, 'client', 'browser.ts'), '--bundle', '--format=esm', '--target=es2022', `--outfile=${BUNDLE}`, '--log-level=warning']);
}

function generate(out) {
  // Properties with a default stay optional in request bodies: the API
  // fills them in, the caller need not.
  run(path.join(BIN, 'openapi-typescript'), [DOCUMENT, '-o', out, '--default-non-nullable', 'false', '--silent']);
}

export function client({ check = false } = {}) {
  if (check) {
    const dir = mkdtempSync(path.join(tmpdir(), 'carbon-client-'));
    try {
      const fresh = path.join(dir, 'schema.d.ts');
      generate(fresh);
      if (readFileSync(fresh, 'utf8') !== readFileSync(TYPES, 'utf8')) {
        throw new Error('client/schema.d.ts is out of date with core/src/openapi.json: run `npm run client` and commit the result');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    generate(TYPES);
    log(`wrote ${path.relative(ROOT, TYPES)}`);
  }
  log('type-checking client/ (tsc)');
  run(path.join(BIN, 'tsc'), ['-p', path.join(ROOT, 'client', 'tsconfig.json')]);
  bundle();
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  client({ check: process.argv.includes('--check') });
}
