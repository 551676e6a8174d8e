-- Upstream identities: a user signs in through a connection as (issuer, subject).
-- Identities are never keyed on email alone.
CREATE TABLE identities (
    connection_id TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id),
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    email         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, issuer, subject)
);
CREATE INDEX identities_user ON identities (user_id);

-- Where a membership came from: '' for an admin, an invitation or a join
-- request; a connection id when that connection's group mapping made it, so
-- re-syncing at login touches only what the mapping made.
ALTER TABLE org_members ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE workspace_members ADD COLUMN source TEXT NOT NULL DEFAULT '';
