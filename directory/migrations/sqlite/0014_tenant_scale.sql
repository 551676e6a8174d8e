-- Tenant scale (docs/bench/README.md, "Tenant scale"): every statement of the
-- hot paths reaches the tenant tables through an index whose leading column it
-- constrains, so its cost does not grow with the number of orgs
-- (TestTenantScalePlans proves it on 1,000 seeded orgs). Two statements had none:
-- deleting a service account removes its workspace memberships by principal
-- alone (workspace_members is keyed by workspace and by org + principal), and
-- its trusted JWT issuers by service account (a cascade too).
CREATE INDEX workspace_members_principal_id ON workspace_members (principal_id);
CREATE INDEX IF NOT EXISTS jwt_issuers_service_account ON jwt_issuers (service_account_id);
