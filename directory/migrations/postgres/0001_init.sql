-- Times are stored as microseconds since the Unix epoch (BIGINT) so that the
-- same queries run on PostgreSQL and SQLite.
CREATE TABLE meta (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO meta (id, generation) VALUES (1, 0);

CREATE TABLE orgs (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    name_key               TEXT NOT NULL UNIQUE,
    plan                   TEXT NOT NULL,
    plan_started_at        BIGINT NOT NULL,
    only_admins_can_invite BOOLEAN NOT NULL DEFAULT FALSE,
    jit_mode               TEXT NOT NULL,
    default_org_role       TEXT NOT NULL,
    default_workspace_id   TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    version                BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX workspaces_org ON workspaces (org_id, name);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    email_key      TEXT NOT NULL,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX users_email ON users (email_key);

CREATE TABLE service_accounts (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    name       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE org_members (
    org_id         TEXT NOT NULL REFERENCES orgs (id),
    principal_id   TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (org_id, principal_id)
);
CREATE INDEX org_members_principal ON org_members (principal_id);

CREATE TABLE workspace_members (
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    principal_id    TEXT NOT NULL,
    role            TEXT NOT NULL,
    can_invite      BOOLEAN NOT NULL DEFAULT FALSE,
    can_make_public BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, principal_id),
    FOREIGN KEY (org_id, principal_id) REFERENCES org_members (org_id, principal_id) ON DELETE CASCADE
);
CREATE INDEX workspace_members_principal ON workspace_members (org_id, principal_id);

CREATE TABLE invitations (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    email      TEXT NOT NULL,
    email_key  TEXT NOT NULL,
    role       TEXT NOT NULL,
    workspaces TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    state      TEXT NOT NULL
);
CREATE INDEX invitations_org ON invitations (org_id, id);
CREATE INDEX invitations_email ON invitations (email_key, state);

CREATE TABLE join_requests (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    state      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT
);
CREATE UNIQUE INDEX join_requests_pending ON join_requests (org_id, user_id) WHERE state = 'pending';

CREATE TABLE api_keys (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL,
    service_account_id TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    prefix             TEXT NOT NULL,
    hash               BYTEA NOT NULL UNIQUE,
    created_at         BIGINT NOT NULL,
    last_used_at       BIGINT,
    revoked_at         BIGINT
);
CREATE INDEX api_keys_account ON api_keys (service_account_id);

CREATE TABLE connections (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    type       TEXT NOT NULL,
    name       TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    config     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE domains (
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    domain      TEXT NOT NULL,
    token       TEXT NOT NULL,
    verified_at BIGINT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, domain)
);
CREATE UNIQUE INDEX domains_verified ON domains (domain) WHERE verified_at IS NOT NULL;

CREATE TABLE clients (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   BYTEA,
    public        BOOLEAN NOT NULL,
    redirect_uris TEXT NOT NULL,
    grant_types   TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id       BIGSERIAL PRIMARY KEY,
    org_id   TEXT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    at       BIGINT NOT NULL,
    before   TEXT NOT NULL,
    after    TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    state        TEXT NOT NULL,
    sealed       BYTEA NOT NULL,
    public_jwk   BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at   BIGINT,
    expires_at   BIGINT
);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
