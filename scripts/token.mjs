// Prints a session token for local development, signed by the key that
// `npm run dev` generated, so the Worker's real verification path runs
// locally too: there is no auth bypass in the code.
//
//   npm run token -- user_123            (valid for 1 hour)
//   npm run token -- user_123 --ttl 60   (seconds)

import { readFileSync } from 'node:fs';
import { DEV_KEY, DEV_KID, DEV_VARS, ensureDevVars, parseEnv } from './lib/devvars.mjs';
import { signSessionToken } from './lib/jwt.mjs';

const args = process.argv.slice(2);
const userId = args.find((a) => !a.startsWith('--'));
if (!userId) {
  console.error('usage: npm run token -- <user_id> [--ttl seconds]');
  process.exit(2);
}
const ttlIndex = args.indexOf('--ttl');
const ttl = ttlIndex >= 0 ? Number(args[ttlIndex + 1]) : 3600;

ensureDevVars();
const vars = parseEnv(readFileSync(DEV_VARS, 'utf8'));
const authorizedParty = (vars.CLERK_AUTHORIZED_PARTIES || 'http://localhost:4321').split(',')[0].trim();
process.stdout.write(
  signSessionToken({
    privateKey: readFileSync(DEV_KEY, 'utf8'),
    kid: DEV_KID,
    issuer: vars.CLERK_ISSUER,
    userId,
    azp: authorizedParty,
    ttlSeconds: ttl,
  }) + '\n',
);
