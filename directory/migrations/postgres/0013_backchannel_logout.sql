-- OpenID Connect Back-Channel Logout 1.0 (docs/logout.md): a client may
-- register the URI the broker POSTs a logout_token to when a browser
-- session in which it received tokens ends, and whether it needs the sid.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;
