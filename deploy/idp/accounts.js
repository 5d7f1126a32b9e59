// People who may sign in (table idp_accounts) and their scrypt password hashes, in the format
// deploy/idp.py writes: scrypt$N$r$p$<salt base64>$<hash base64>.

import { scrypt, timingSafeEqual, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt);

// verified against when no such account exists, so the answer takes as long either way
const DECOY = `scrypt$16384$8$1$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`;

export async function verifyPassword(password, encoded) {
  const parts = String(encoded).split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  const actual = await scryptAsync(String(password), salt, expected.length, {
    N, r, p, maxmem: 256 * N * r,
  });
  return timingSafeEqual(actual, expected);
}

export function accountsOf(pool, issuerName) {
  async function find(username) {
    const { rows } = await pool.query(
      `SELECT username, password_hash, roles, display_name, email, disabled
         FROM idp_accounts WHERE issuer = $1 AND username = $2`,
      [issuerName, username],
    );
    return rows[0];
  }

  return {
    find,

    // The account when the password is right and the account is enabled, else undefined.
    async authenticate(username, password) {
      const row = username ? await find(username) : undefined;
      const ok = await verifyPassword(password, row ? row.password_hash : DECOY);
      return ok && row && !row.disabled ? row : undefined;
    },

    // oidc-provider's findAccount: a disabled or removed account no longer exists for it.
    async findAccount(ctx, sub) {
      const row = await find(sub);
      if (!row || row.disabled) return undefined;
      return {
        accountId: row.username,
        async claims() {
          return {
            sub: row.username,
            name: row.display_name,
            roles: row.roles,
            ...(row.email ? { email: row.email } : {}),
          };
        },
      };
    },
  };
}
