-- Trusted JWT issuers widen their mapping (docs/jwt-issuers.md): a token acts
-- as the service account (round 1) or as the org member a claim names
-- (user_claim, matched as user_match says); a claim may carry the role
-- (role_claim), never above max_role. Exactly one principal per trust.
-- SQLite cannot drop NOT NULL or a UNIQUE constraint: the table is rebuilt.
CREATE TABLE jwt_issuers_new (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES orgs (id),
    name               TEXT NOT NULL,
    issuer             TEXT NOT NULL,
    jwks_uri           TEXT NOT NULL DEFAULT '',
    audience           TEXT NOT NULL,
    subject            TEXT NOT NULL DEFAULT '',
    service_account_id TEXT REFERENCES service_accounts (id) ON DELETE CASCADE,
    created_by         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    user_claim         TEXT NOT NULL DEFAULT '',
    user_match         TEXT NOT NULL DEFAULT '',
    role_claim         TEXT NOT NULL DEFAULT '',
    max_role           TEXT NOT NULL DEFAULT '',
    CONSTRAINT jwt_issuers_one_principal CHECK ((service_account_id IS NULL) <> (user_claim = '')),
    -- A token (iss, aud, sub) finds at most one trust per org.
    CONSTRAINT jwt_issuers_trust UNIQUE (org_id, issuer, audience, subject)
);
INSERT INTO jwt_issuers_new (id, org_id, name, issuer, jwks_uri, audience, subject, service_account_id, created_by, created_at)
    SELECT id, org_id, name, issuer, jwks_uri, audience, subject, service_account_id, created_by, created_at FROM jwt_issuers;
DROP TABLE jwt_issuers;
ALTER TABLE jwt_issuers_new RENAME TO jwt_issuers;
CREATE INDEX jwt_issuers_issuer ON jwt_issuers (issuer);
-- The rebuild dropped the service-account index of 0014 where 0014 ran first
-- (a database made between the two releases); 0014 creates it only if missing.
CREATE INDEX IF NOT EXISTS jwt_issuers_service_account ON jwt_issuers (service_account_id);

-- Recent refusals of tokens that named a trusted issuer (the last 50 per
-- issuer), with the stable reason code, for the org's admin.
CREATE TABLE jwt_issuer_failures (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id        TEXT NOT NULL,
    jwt_issuer_id TEXT NOT NULL REFERENCES jwt_issuers (id) ON DELETE CASCADE,
    reason        TEXT NOT NULL,
    detail        TEXT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX jwt_issuer_failures_issuer ON jwt_issuer_failures (jwt_issuer_id, id);
