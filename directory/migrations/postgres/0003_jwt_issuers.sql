-- Trusted external JWT issuers (workload identity federation): a token from
-- issuer, for audience (and subject when set), acts as a service account.
CREATE TABLE jwt_issuers (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES orgs (id),
    name               TEXT NOT NULL,
    issuer             TEXT NOT NULL,
    jwks_uri           TEXT NOT NULL DEFAULT '',
    audience           TEXT NOT NULL,
    subject            TEXT NOT NULL DEFAULT '',
    service_account_id TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    created_by         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    UNIQUE (org_id, issuer, subject)
);
CREATE INDEX jwt_issuers_issuer ON jwt_issuers (issuer);
