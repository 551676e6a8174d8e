-- Webhooks (docs/webhooks.md). The audit log is the outbox: every change
-- writes its audit row in its own transaction, and events are derived from
-- those rows after they commit. SQLite has one writer at a time, so ids are
-- in commit order and txid stays 0; the column keeps one query for both
-- engines (the PostgreSQL migration says why it needs it there).
ALTER TABLE audit_log ADD COLUMN txid BIGINT NOT NULL DEFAULT 0;
CREATE INDEX audit_log_org_txid ON audit_log (org_id, txid, id);

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    url           TEXT NOT NULL,
    secret_sealed BLOB NOT NULL,
    event_types   TEXT NOT NULL,
    description   TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX webhooks_org ON webhooks (org_id, id);

CREATE TABLE webhook_cursors (
    webhook_id TEXT PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    txid       BIGINT NOT NULL,
    audit_id   BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    audit_id         BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    last_status_code INTEGER NOT NULL,
    last_error       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    last_attempt_at  BIGINT,
    delivered_at     BIGINT,
    lease_owner      TEXT NOT NULL,
    lease_until      BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, audit_id, id);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (created_at) WHERE status <> 'pending';
