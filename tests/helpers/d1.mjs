// Direct access to a test Worker's local D1, the way an operator (or an
// attacker with database access) would touch it: `wrangler d1 execute`.

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BIN, ROOT, projectEnv } from '../../scripts/lib/toolchain.mjs';

export function d1(worker, sql) {
  const res = spawnSync(path.join(BIN, 'wrangler'), ['d1', 'execute', 'DB', '--local', '--persist-to', worker.persistDir, '--json', '--command', sql], {
    cwd: ROOT,
    env: projectEnv(),
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`d1 execute failed: ${res.stdout}\n${res.stderr}`);
  return JSON.parse(res.stdout)[0].results;
}
