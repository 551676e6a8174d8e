-- Clients an operator allowed to ask for the admin API's scope
-- (ssobroker:admin): only their users' access tokens are accepted by
-- /api/v1 (docs/security.md, "Sessions and admin tokens").
ALTER TABLE clients ADD COLUMN admin_api BOOLEAN NOT NULL DEFAULT FALSE;
