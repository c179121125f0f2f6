// Signs Clerk-shaped session tokens (RS256) with node:crypto. Used by
// `npm run token` and by the black-box tests.

import { createSign, randomBytes } from 'node:crypto';

const b64url = (value) => Buffer.from(value).toString('base64url');

/** Signs arbitrary header and claims: tests use it to forge bad tokens. */
export function signJwt(header, claims, privateKey) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(input).sign(privateKey);
  return `${input}.${b64url(signature)}`;
}

/** A token with the claims of a Clerk v2 session token. */
export function signSessionToken({ privateKey, kid, issuer, userId, azp, ttlSeconds = 3600, now = Date.now() / 1000 }) {
  const iat = Math.floor(now);
  const claims = {
    azp,
    exp: iat + ttlSeconds,
    fva: [0, -1],
    iat,
    iss: issuer,
    jti: randomBytes(10).toString('hex'),
    nbf: iat - 5,
    sid: `sess_${randomBytes(12).toString('hex')}`,
    sts: 'active',
    sub: userId,
    v: 2,
  };
  if (!azp) delete claims.azp;
  return signJwt({ alg: 'RS256', kid, typ: 'JWT' }, claims, privateKey);
}
