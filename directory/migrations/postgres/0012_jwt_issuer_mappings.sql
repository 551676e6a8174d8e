-- Trusted JWT issuers widen their mapping (docs/jwt-issuers.md): a token acts
-- as the service account (round 1) or as the org member a claim names
-- (user_claim, matched as user_match says); a claim may carry the role
-- (role_claim), never above max_role. Exactly one principal per trust.
-- During a rolling upgrade the previous release cannot read a user mapping
-- (its service_account_id is NULL); it never used these records for tokens.
ALTER TABLE jwt_issuers ALTER COLUMN service_account_id DROP NOT NULL;
ALTER TABLE jwt_issuers ADD COLUMN user_claim TEXT NOT NULL DEFAULT '';
ALTER TABLE jwt_issuers ADD COLUMN user_match TEXT NOT NULL DEFAULT '';
ALTER TABLE jwt_issuers ADD COLUMN role_claim TEXT NOT NULL DEFAULT '';
ALTER TABLE jwt_issuers ADD COLUMN max_role TEXT NOT NULL DEFAULT '';
ALTER TABLE jwt_issuers ADD CONSTRAINT jwt_issuers_one_principal CHECK ((service_account_id IS NULL) <> (user_claim = ''));
-- A token (iss, aud, sub) finds at most one trust per org.
ALTER TABLE jwt_issuers DROP CONSTRAINT jwt_issuers_org_id_issuer_subject_key;
ALTER TABLE jwt_issuers ADD CONSTRAINT jwt_issuers_trust UNIQUE (org_id, issuer, audience, subject);

-- Recent refusals of tokens that named a trusted issuer (the last 50 per
-- issuer), with the stable reason code, for the org's admin.
CREATE TABLE jwt_issuer_failures (
    id            BIGSERIAL PRIMARY KEY,
    org_id        TEXT NOT NULL,
    jwt_issuer_id TEXT NOT NULL REFERENCES jwt_issuers (id) ON DELETE CASCADE,
    reason        TEXT NOT NULL,
    detail        TEXT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX jwt_issuer_failures_issuer ON jwt_issuer_failures (jwt_issuer_id, id);
