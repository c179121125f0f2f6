// Debian packages `npm test` needs beyond Rust and Node (a browser for the
// end-to-end test, Python's venv for schemathesis): installed with apt-get
// when it runs as root, as CI does; elsewhere the caller says what to install.

import { spawnSync } from 'node:child_process';
import { log } from './toolchain.mjs';

/** Installs `packages` with apt-get; false when it cannot (not root, no apt). */
export function aptInstall(packages, why) {
  const root = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!root || !apt) return false;
  log(`installing ${packages.join(', ')} for ${why} (apt-get, once per machine)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env }).status === 0;
  if (install()) return true;
  // A fresh machine may have no package lists yet.
  spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  return install();
}
