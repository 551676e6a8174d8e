-- The last good upstream document of a connection (today: the IdP metadata
-- a SAML connection fetches from its metadata URL), with the URL it came
-- from and when it was fetched, so that a broker starting (or refreshing)
-- while that URL is unreachable keeps signing users in with the last copy
-- that passed validation. One row per connection.
CREATE TABLE connection_upstream_documents (
    connection_id TEXT PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    document      TEXT NOT NULL,
    fetched_at    BIGINT NOT NULL
);
