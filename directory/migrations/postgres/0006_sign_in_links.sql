-- One-time console sign-in links an operator prints with the CLI
-- (ssobroker admin bootstrap / admin sign-in-link): the way into the console
-- before an org has an IdP (README, "The way in without an IdP"). Only the
-- SHA-256 of the token is stored; a link is used once and expires within
-- 15 minutes.
CREATE TABLE sign_in_links (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    token_hash BYTEA NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sign_in_links_org ON sign_in_links (org_id, id);
