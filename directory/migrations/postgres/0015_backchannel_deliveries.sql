-- Back-channel logout deliveries (docs/logout.md): one row per (ended
-- browser session, client), written when the session ends and leased by
-- whichever replica sends it, so a delivery survives a restart. The row
-- holds the claims a logout token is minted from at each attempt (client,
-- subject, sid), never a token or a secret; the URI is read from the client
-- at each attempt.
CREATE TABLE backchannel_deliveries (
    id               TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    sid              TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    last_status_code INTEGER NOT NULL,
    last_error       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT NOT NULL,
    lease_until      BIGINT NOT NULL
);
CREATE INDEX backchannel_deliveries_due ON backchannel_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX backchannel_deliveries_age ON backchannel_deliveries (created_at) WHERE status <> 'pending';
