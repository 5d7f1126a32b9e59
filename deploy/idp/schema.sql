-- The local identity provider's tables (database peerlink_idp). Applied by deploy/idp.py and by
-- the provider at start; every statement is idempotent.

-- People who may sign in, per issuer (a partner id or "alliance"); sub = username.
CREATE TABLE IF NOT EXISTS idp_accounts (
    issuer text NOT NULL,
    username text NOT NULL,
    password_hash text NOT NULL,
    roles text[] NOT NULL,
    display_name text NOT NULL,
    email text,
    disabled boolean NOT NULL DEFAULT false,
    PRIMARY KEY (issuer, username)
);

-- What oidc-provider keeps between requests (sessions, interactions, codes, grants, refresh
-- tokens), one row per model instance, gone once expired.
CREATE TABLE IF NOT EXISTS idp_oidc_models (
    issuer text NOT NULL,
    model text NOT NULL,
    id text NOT NULL,
    payload jsonb NOT NULL,
    grant_id text,
    user_code text,
    uid text,
    expires_at timestamptz,
    consumed_at timestamptz,
    PRIMARY KEY (issuer, model, id)
);
CREATE INDEX IF NOT EXISTS idp_oidc_models_grant_id ON idp_oidc_models (issuer, grant_id);
CREATE INDEX IF NOT EXISTS idp_oidc_models_uid ON idp_oidc_models (issuer, model, uid);
CREATE INDEX IF NOT EXISTS idp_oidc_models_user_code ON idp_oidc_models (issuer, model, user_code);
CREATE INDEX IF NOT EXISTS idp_oidc_models_expires_at ON idp_oidc_models (expires_at);
