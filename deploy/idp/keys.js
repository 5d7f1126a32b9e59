// Each issuer's signing key: an RSA 2048 private JWK made at first start and kept (0600) so a
// restart signs with the same key id.

import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// RFC 7638 thumbprint of an RSA key: its kid
function thumbprint(jwk) {
  const canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return createHash('sha256').update(canonical).digest('base64url');
}

export function loadOrCreateJwks(path) {
  if (existsSync(path)) return { jwks: JSON.parse(readFileSync(path, 'utf8')), created: false };
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const jwks = { keys: [{ ...jwk, kid: thumbprint(jwk), alg: 'RS256', use: 'sig' }] };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const partial = `${path}.partial`;
  writeFileSync(partial, JSON.stringify(jwks), { mode: 0o600 });
  renameSync(partial, path);
  return { jwks, created: true };
}
