// The browser the end-to-end test drives: Debian's chromium package (browser
// downloads from other hosts do not work here). `npm test` installs it when it
// runs as root with apt-get (as CI does); elsewhere it says what to install,
// and the browser test fails rather than passing without a browser.

import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { log } from './toolchain.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function ensureChromium() {
  if (existsSync(CHROMIUM)) return true;
  const root = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!root || !apt) {
    log(`!!! no browser at ${CHROMIUM} and no way to install one here (needs root and apt-get):`);
    log('!!! install Debian\'s chromium package, or set CHROMIUM_PATH; the browser test will FAIL until then');
    return false;
  }
  log("installing Debian's chromium for the browser test (apt-get, once per machine)");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env }).status === 0;
  if (!install()) {
    // A fresh machine may have no package lists yet.
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (!install()) {
      log('!!! apt-get could not install chromium: the browser test will FAIL');
      return false;
    }
  }
  return existsSync(CHROMIUM);
}
