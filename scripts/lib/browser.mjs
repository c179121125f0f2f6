// The browser the end-to-end test drives: Debian's chromium package (browser
// downloads from other hosts do not work here). `npm test` installs it when it
// runs as root with apt-get (as CI does); elsewhere it says what to install,
// and the browser test fails rather than passing without a browser.

import { existsSync } from 'node:fs';
import { aptInstall } from './apt.mjs';
import { log } from './toolchain.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function ensureChromium() {
  if (existsSync(CHROMIUM)) return true;
  if (!aptInstall(['chromium'], 'the browser test')) {
    log(`!!! no browser at ${CHROMIUM}, and apt-get could not install one here (needs root):`);
    log("!!! install Debian's chromium package, or set CHROMIUM_PATH; the browser test will FAIL until then");
    return false;
  }
  return existsSync(CHROMIUM);
}
