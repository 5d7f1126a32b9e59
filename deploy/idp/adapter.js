// oidc-provider's storage in PostgreSQL: one table for every model of every issuer.

const COLUMNS = 'payload, consumed_at';

function unpack(row) {
  if (!row) return undefined;
  const payload = row.payload;
  if (row.consumed_at) payload.consumed = Math.floor(row.consumed_at.getTime() / 1000);
  return payload;
}

export function pgAdapter(pool, issuerName) {
  const live = 'issuer = $1 AND model = $2 AND (expires_at IS NULL OR expires_at > now())';

  return class PgAdapter {
    constructor(model) {
      this.model = model;
    }

    async upsert(id, payload, expiresIn) {
      await pool.query(
        `INSERT INTO idp_oidc_models
           (issuer, model, id, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7,
                 CASE WHEN $8::int IS NULL THEN NULL
                      ELSE now() + make_interval(secs => $8::int) END)
         ON CONFLICT (issuer, model, id) DO UPDATE SET
           payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
           user_code = EXCLUDED.user_code, uid = EXCLUDED.uid,
           expires_at = EXCLUDED.expires_at`,
        [
          issuerName,
          this.model,
          id,
          payload,
          payload.grantId ?? null,
          payload.userCode ?? null,
          payload.uid ?? null,
          expiresIn ?? null,
        ],
      );
    }

    async find(id) {
      const { rows } = await pool.query(
        `SELECT ${COLUMNS} FROM idp_oidc_models WHERE ${live} AND id = $3`,
        [issuerName, this.model, id],
      );
      return unpack(rows[0]);
    }

    async findByUid(uid) {
      const { rows } = await pool.query(
        `SELECT ${COLUMNS} FROM idp_oidc_models WHERE ${live} AND uid = $3`,
        [issuerName, this.model, uid],
      );
      return unpack(rows[0]);
    }

    async findByUserCode(userCode) {
      const { rows } = await pool.query(
        `SELECT ${COLUMNS} FROM idp_oidc_models WHERE ${live} AND user_code = $3`,
        [issuerName, this.model, userCode],
      );
      return unpack(rows[0]);
    }

    async consume(id) {
      await pool.query(
        'UPDATE idp_oidc_models SET consumed_at = now() WHERE issuer = $1 AND model = $2 AND id = $3',
        [issuerName, this.model, id],
      );
    }

    async destroy(id) {
      await pool.query(
        'DELETE FROM idp_oidc_models WHERE issuer = $1 AND model = $2 AND id = $3',
        [issuerName, this.model, id],
      );
    }

    async revokeByGrantId(grantId) {
      await pool.query('DELETE FROM idp_oidc_models WHERE issuer = $1 AND grant_id = $2', [
        issuerName,
        grantId,
      ]);
    }
  };
}

export async function removeExpired(pool) {
  const { rowCount } = await pool.query(
    'DELETE FROM idp_oidc_models WHERE expires_at < now()',
  );
  return rowCount;
}
