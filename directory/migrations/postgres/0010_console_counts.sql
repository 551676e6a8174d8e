-- The admin console at 5,000 members (docs/console.md, "Performance"):
-- Billing counts an org's members by kind and its human admins from this
-- index alone (CountMembers), and the Audit tab's filters by action or actor
-- read the newest matching events of one org in order instead of scanning
-- its whole log.
CREATE INDEX org_members_kind ON org_members (org_id, principal_type, role);
CREATE INDEX audit_log_org_action ON audit_log (org_id, action, id);
CREATE INDEX audit_log_org_actor ON audit_log (org_id, actor, id);
