// A test issuer: its own RSA keys and Clerk-shaped session tokens.

import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { signJwt, signSessionToken } from '../../scripts/lib/jwt.mjs';

export const ISSUER = 'https://clerk.test.invalid';
export const FRONTEND = 'https://app.test.invalid';

export function newIssuer(kid = 'test-key-1') {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    kid,
    publicKey,
    privateKey,
    /** The public key as a JWKS entry, the way Clerk publishes it. */
    jwk() {
      return { ...createPublicKey(publicKey).export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
    },
    token(userId, overrides = {}) {
      return signSessionToken({ privateKey, kid, issuer: ISSUER, userId, azp: FRONTEND, ...overrides });
    },
    sign(header, claims) {
      return signJwt(header, claims, privateKey);
    },
  };
}

/** Worker configuration for a test issuer. */
export function workerVars(issuer, extra = {}) {
  return {
    CLERK_ISSUER: ISSUER,
    CLERK_JWT_KEY: issuer.publicKey,
    CLERK_AUTHORIZED_PARTIES: FRONTEND,
    ALLOWED_ORIGINS: FRONTEND,
    ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
    // The sync cron also refreshes grid intensity: tests not about it point
    // it at a closed loopback port (refused at once) instead of the network.
    CARBON_INTENSITY_API_BASE: 'http://127.0.0.1:9',
    ...extra,
  };
}
