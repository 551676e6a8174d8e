package console_test

// Code below counts every call the console makes to its Store, for the
// benchmark's "store calls per page" figure.

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
	"github.com/ssobroker/ssobroker/idp/console"
)

var _ = time.Second

// countingStore counts the calls made through console.Store.
type countingStore struct {
	s     console.Store
	calls atomic.Int64
}

func (c *countingStore) SessionStanding(ctx context.Context, orgID, userID, connectionID string) (directory.PrincipalAccess, error) {
	c.calls.Add(1)
	return c.s.SessionStanding(ctx, orgID, userID, connectionID)
}

func (c *countingStore) SwitchStanding(ctx context.Context, orgID, userID, connectionID, target string) (directory.PrincipalAccess, error) {
	c.calls.Add(1)
	return c.s.SwitchStanding(ctx, orgID, userID, connectionID, target)
}

func (c *countingStore) PrincipalAccess(ctx context.Context, orgID, principalID string) (directory.PrincipalAccess, error) {
	c.calls.Add(1)
	return c.s.PrincipalAccess(ctx, orgID, principalID)
}

func (c *countingStore) GetOrg(ctx context.Context, ref string) (directory.Organization, error) {
	c.calls.Add(1)
	return c.s.GetOrg(ctx, ref)
}

func (c *countingStore) UpdateOrg(ctx context.Context, actor, orgID string, u directory.OrgUpdate) (directory.Organization, error) {
	c.calls.Add(1)
	return c.s.UpdateOrg(ctx, actor, orgID, u)
}

func (c *countingStore) CreateWorkspace(ctx context.Context, actor, orgID, name, owner string) (directory.Workspace, error) {
	c.calls.Add(1)
	return c.s.CreateWorkspace(ctx, actor, orgID, name, owner)
}

func (c *countingStore) GetWorkspace(ctx context.Context, orgID, ref string) (directory.Workspace, error) {
	c.calls.Add(1)
	return c.s.GetWorkspace(ctx, orgID, ref)
}

func (c *countingStore) ListWorkspaces(ctx context.Context, orgID string, f directory.WorkspaceFilter) ([]directory.Workspace, string, error) {
	c.calls.Add(1)
	return c.s.ListWorkspaces(ctx, orgID, f)
}

func (c *countingStore) SetDefaultWorkspace(ctx context.Context, actor, orgID, wsID string) error {
	c.calls.Add(1)
	return c.s.SetDefaultWorkspace(ctx, actor, orgID, wsID)
}

func (c *countingStore) DeleteWorkspace(ctx context.Context, actor, orgID, wsID, newDefault string) error {
	c.calls.Add(1)
	return c.s.DeleteWorkspace(ctx, actor, orgID, wsID, newDefault)
}

func (c *countingStore) GetUser(ctx context.Context, id string) (directory.User, error) {
	c.calls.Add(1)
	return c.s.GetUser(ctx, id)
}

func (c *countingStore) GetMember(ctx context.Context, orgID, principalID string) (directory.Member, error) {
	c.calls.Add(1)
	return c.s.GetMember(ctx, orgID, principalID)
}

func (c *countingStore) ListPrincipalOrgs(ctx context.Context, principalID string) ([]directory.Member, error) {
	c.calls.Add(1)
	return c.s.ListPrincipalOrgs(ctx, principalID)
}

func (c *countingStore) SetMemberRole(ctx context.Context, actor, orgID, principalID string, role access.OrgRole, ifVersion int64) (directory.Member, error) {
	c.calls.Add(1)
	return c.s.SetMemberRole(ctx, actor, orgID, principalID, role, ifVersion)
}

func (c *countingStore) RemoveMember(ctx context.Context, actor, orgID, principalID string) error {
	c.calls.Add(1)
	return c.s.RemoveMember(ctx, actor, orgID, principalID)
}

func (c *countingStore) SearchMembers(ctx context.Context, orgID string, f directory.MemberFilter) ([]directory.Member, string, error) {
	c.calls.Add(1)
	return c.s.SearchMembers(ctx, orgID, f)
}

func (c *countingStore) CountMembers(ctx context.Context, orgID string) (directory.MemberCounts, error) {
	c.calls.Add(1)
	return c.s.CountMembers(ctx, orgID)
}

func (c *countingStore) WorkspacesOfPrincipals(ctx context.Context, orgID string, principals []string) (map[string][]directory.WorkspaceMember, error) {
	c.calls.Add(1)
	return c.s.WorkspacesOfPrincipals(ctx, orgID, principals)
}

func (c *countingStore) PutWorkspaceMember(ctx context.Context, actor, orgID, wsID, principalID string, m access.Membership) (directory.WorkspaceMember, error) {
	c.calls.Add(1)
	return c.s.PutWorkspaceMember(ctx, actor, orgID, wsID, principalID, m)
}

func (c *countingStore) RemoveWorkspaceMember(ctx context.Context, actor, orgID, wsID, principalID string) error {
	c.calls.Add(1)
	return c.s.RemoveWorkspaceMember(ctx, actor, orgID, wsID, principalID)
}

func (c *countingStore) ListWorkspaceMembers(ctx context.Context, orgID, wsID string, p directory.Page) ([]directory.WorkspaceMember, string, error) {
	c.calls.Add(1)
	return c.s.ListWorkspaceMembers(ctx, orgID, wsID, p)
}

func (c *countingStore) PrincipalWorkspaces(ctx context.Context, orgID, principalID string) ([]directory.WorkspaceMember, error) {
	c.calls.Add(1)
	return c.s.PrincipalWorkspaces(ctx, orgID, principalID)
}

func (c *countingStore) CreateInvitation(ctx context.Context, actor string, in directory.NewInvitation) (directory.Invitation, error) {
	c.calls.Add(1)
	return c.s.CreateInvitation(ctx, actor, in)
}

func (c *countingStore) GetInvitation(ctx context.Context, orgID, id string) (directory.Invitation, error) {
	c.calls.Add(1)
	return c.s.GetInvitation(ctx, orgID, id)
}

func (c *countingStore) SearchInvitations(ctx context.Context, orgID string, f directory.ListFilter) ([]directory.Invitation, string, error) {
	c.calls.Add(1)
	return c.s.SearchInvitations(ctx, orgID, f)
}

func (c *countingStore) RevokeInvitation(ctx context.Context, actor, orgID, id string) error {
	c.calls.Add(1)
	return c.s.RevokeInvitation(ctx, actor, orgID, id)
}

func (c *countingStore) SearchJoinRequests(ctx context.Context, orgID string, f directory.ListFilter) ([]directory.JoinRequest, string, error) {
	c.calls.Add(1)
	return c.s.SearchJoinRequests(ctx, orgID, f)
}

func (c *countingStore) ApproveJoinRequest(ctx context.Context, actor, orgID, id string) (directory.Member, error) {
	c.calls.Add(1)
	return c.s.ApproveJoinRequest(ctx, actor, orgID, id)
}

func (c *countingStore) DenyJoinRequest(ctx context.Context, actor, orgID, id string) error {
	c.calls.Add(1)
	return c.s.DenyJoinRequest(ctx, actor, orgID, id)
}

func (c *countingStore) CreateServiceAccount(ctx context.Context, actor string, in directory.NewServiceAccount) (directory.ServiceAccount, error) {
	c.calls.Add(1)
	return c.s.CreateServiceAccount(ctx, actor, in)
}

func (c *countingStore) GetServiceAccount(ctx context.Context, orgID, id string) (directory.ServiceAccount, error) {
	c.calls.Add(1)
	return c.s.GetServiceAccount(ctx, orgID, id)
}

func (c *countingStore) SearchServiceAccounts(ctx context.Context, orgID string, f directory.ListFilter) ([]directory.ServiceAccount, string, error) {
	c.calls.Add(1)
	return c.s.SearchServiceAccounts(ctx, orgID, f)
}

func (c *countingStore) DeleteServiceAccount(ctx context.Context, actor, orgID, id string) error {
	c.calls.Add(1)
	return c.s.DeleteServiceAccount(ctx, actor, orgID, id)
}

func (c *countingStore) CreateAPIKey(ctx context.Context, actor, orgID, serviceAccountID string) (directory.APIKey, string, error) {
	c.calls.Add(1)
	return c.s.CreateAPIKey(ctx, actor, orgID, serviceAccountID)
}

func (c *countingStore) ListAPIKeys(ctx context.Context, orgID, serviceAccountID string) ([]directory.APIKey, error) {
	c.calls.Add(1)
	return c.s.ListAPIKeys(ctx, orgID, serviceAccountID)
}

func (c *countingStore) RevokeAPIKey(ctx context.Context, actor, orgID, keyID string) error {
	c.calls.Add(1)
	return c.s.RevokeAPIKey(ctx, actor, orgID, keyID)
}

func (c *countingStore) ListConnections(ctx context.Context, orgID string) ([]directory.Connection, error) {
	c.calls.Add(1)
	return c.s.ListConnections(ctx, orgID)
}

func (c *countingStore) ListDomains(ctx context.Context, orgID string) ([]directory.Domain, error) {
	c.calls.Add(1)
	return c.s.ListDomains(ctx, orgID)
}

func (c *countingStore) ListAudit(ctx context.Context, orgID string, f directory.AuditFilter) ([]directory.AuditEvent, string, error) {
	c.calls.Add(1)
	return c.s.ListAudit(ctx, orgID, f)
}
