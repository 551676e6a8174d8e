-- SCIM 2.0 provisioning (docs/scim.md).

-- Bearer tokens an org's identity provider presents at /scim/v2/{org}: only
-- the SHA-256 of the secret is stored, like API keys.
CREATE TABLE scim_tokens (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         BYTEA NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, created_at);

-- A user as one org's SCIM client sees it: userName, externalId and the
-- profile it sent are per (org, user), so one org's provisioning never
-- rewrites what another org sees. Whether the user is active is whether it
-- is a member of the org. owned: the user was created by this org's SCIM
-- client (it has no upstream identity until it is claimed at sign-in), so
-- its email follows the SCIM userName.
CREATE TABLE scim_users (
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    user_id       TEXT NOT NULL REFERENCES users (id),
    user_name     TEXT NOT NULL,
    user_name_key TEXT NOT NULL,
    external_id   TEXT,
    email         TEXT NOT NULL DEFAULT '',
    given_name    TEXT NOT NULL DEFAULT '',
    family_name   TEXT NOT NULL DEFAULT '',
    display_name  TEXT NOT NULL DEFAULT '',
    owned         BOOLEAN NOT NULL DEFAULT FALSE,
    version       BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id),
    UNIQUE (org_id, user_name_key),
    UNIQUE (org_id, external_id)
);

CREATE TABLE scim_groups (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    display_name TEXT NOT NULL,
    display_key  TEXT NOT NULL,
    external_id  TEXT,
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (org_id, display_key),
    UNIQUE (org_id, external_id)
);

CREATE TABLE scim_group_members (
    group_id TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
    org_id   TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES scim_users (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX scim_group_members_user ON scim_group_members (org_id, user_id);
