-- Webhooks (docs/webhooks.md). The audit log is the outbox: every change
-- writes its audit row in its own transaction, and events are derived from
-- those rows after they commit.
--
-- BIGSERIAL ids are not handed out in commit order, so a reader following
-- ids could pass a row whose transaction commits later. Each row therefore
-- records its transaction id; a reader takes only rows of transactions older
-- than its snapshot's xmin (all of them finished) in (txid, id) order, and
-- no row can later appear behind its cursor.
ALTER TABLE audit_log ADD COLUMN txid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX audit_log_org_txid ON audit_log (org_id, txid, id);

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    url           TEXT NOT NULL,
    secret_sealed BYTEA NOT NULL,
    event_types   TEXT NOT NULL,
    description   TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX webhooks_org ON webhooks (org_id, id);

-- How far each webhook has turned audit rows into deliveries.
CREATE TABLE webhook_cursors (
    webhook_id TEXT PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    txid       BIGINT NOT NULL,
    audit_id   BIGINT NOT NULL
);

-- One row per (webhook, audit row, event type); its id is the webhook-id
-- header, stable across attempts. A lease (owner, until) lets one replica
-- send it at a time.
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
