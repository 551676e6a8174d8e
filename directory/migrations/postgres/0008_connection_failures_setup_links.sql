-- Recent sign-in failures of each connection (the last 50 are kept), with
-- the stable reason code and the reference the user was shown.
CREATE TABLE connection_failures (
    id            BIGSERIAL PRIMARY KEY,
    org_id        TEXT NOT NULL,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    reason        TEXT NOT NULL,
    reference     TEXT NOT NULL,
    at            BIGINT NOT NULL,
    detail_class  TEXT NOT NULL
);
CREATE INDEX connection_failures_conn ON connection_failures (connection_id, id);

-- Setup links: an org admin lets a customer's IT admin configure the org's
-- connections and domains without an account. Only the token's SHA-256 is
-- stored.
CREATE TABLE setup_links (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    token_hash BYTEA NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX setup_links_org ON setup_links (org_id, id);
