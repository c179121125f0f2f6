// Local secrets for `wrangler dev`: .dev.vars (from .dev.vars.example) and a
// local session-signing key pair. Made once, never committed. The private key
// lives outside .dev.vars (in .dev/) so it never reaches the Worker's env.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, log } from './toolchain.mjs';

export const DEV_VARS = path.join(ROOT, '.dev.vars');
export const DEV_KEY = path.join(ROOT, '.dev', 'clerk-dev-key.pem');
export const DEV_KID = 'local-dev';

/** Parses dotenv-style text (KEY=value, # comments, optional quotes). */
export function parseEnv(text) {
  const vars = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/);
    if (!m) continue;
    let value = m[2];
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\n/g, '\n');
    vars[m[1]] = value;
  }
  return vars;
}

/** One dotenv line; PEMs are kept on one line with \n escapes. */
export function envLine(key, value) {
  return `${key}="${String(value).replace(/\n/g, '\\n')}"`;
}

export function newSigningKey() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

export function ensureDevVars() {
  if (existsSync(DEV_VARS) && existsSync(DEV_KEY)) return;
  log('generating local secrets into .dev.vars and .dev/');
  const { publicKey, privateKey } = newSigningKey();
  mkdirSync(path.dirname(DEV_KEY), { recursive: true });
  writeFileSync(DEV_KEY, privateKey, { mode: 0o600 });
  const source = existsSync(DEV_VARS) ? DEV_VARS : path.join(ROOT, '.dev.vars.example');
  const generated = {
    CLERK_JWT_KEY: publicKey,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  };
  const lines = readFileSync(source, 'utf8')
    .split('\n')
    .map((line) => {
      const key = line.match(/^([A-Z0-9_]+)=/)?.[1];
      if (key === 'CLERK_JWT_KEY') return envLine(key, generated.CLERK_JWT_KEY);
      // A fresh .dev.vars gets a fresh encryption key; an existing one keeps
      // its key, or the credentials already stored locally would be lost.
      if (key === 'ENCRYPTION_KEY' && source !== DEV_VARS) return envLine(key, generated.ENCRYPTION_KEY);
      return line;
    });
  writeFileSync(DEV_VARS, lines.join('\n'), { mode: 0o600 });
}
