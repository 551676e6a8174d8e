package tokens

import (
	"context"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
)

// ScopeAdmin is the scope value of a user's access token for the admin API
// (/api/v1). Only a client an operator registered with AdminAPI (`ssobroker
// admin client create … --admin-api`) may ask for it; a token carrying it
// also names the admin API in its aud (AdminAPIAudience). A token leaked
// from any other application — a single-page app, a service's backend —
// carries no admin power (docs/security.md, "Sessions and admin tokens").
//
// A scope and not an RFC 8707 resource parameter: every OAuth and OIDC
// client library sends scope, while resource is rarely supported; the
// broker has one protected resource of its own; and the resource
// identifier still appears where a resource server looks for it, in aud.
const ScopeAdmin = "ssobroker:admin"

// AdminAPIPath is where the admin API is served. The issuer URL followed by
// it is the admin API's resource identifier.
const AdminAPIPath = "/api/v1"

// AdminAPIAudience returns the admin API's resource identifier, which the
// aud of every user token carrying ScopeAdmin lists beside the client id.
func (i *Issuer) AdminAPIAudience() string { return i.cfg.Issuer + AdminAPIPath }

// IssuedForAdminAPI reports whether verified access-token claims were
// issued for the admin API: scope has ScopeAdmin and aud names
// AdminAPIAudience. Service-account tokens are admitted by the admin API
// without it (a service account is the org's own automation).
func (i *Issuer) IssuedForAdminAPI(c AccessClaims) bool {
	return hasScope(c.Scope, ScopeAdmin) && c.Audience.Contains(i.AdminAPIAudience())
}

// checkAdminScope refuses ScopeAdmin at authorization for a client the
// operator did not allow to ask for it (invalid_scope, RFC 6749 §4.1.2.1).
func checkAdminScope(client directory.Client, scope string) error {
	if hasScope(scope, ScopeAdmin) && !client.AdminAPI {
		return oauthErr(CodeInvalidScope, "this client may not ask for the "+ScopeAdmin+" scope")
	}
	return nil
}

// grantableScope is the scope a user's token is issued with: the grant's,
// less ScopeAdmin when the client is no longer allowed it (an operator
// withdrew the permission after the sign-in; a refresh then keeps every
// other scope value). The client is read from the directory's cache.
func (p *Provider) grantableScope(ctx context.Context, clientID, scope string) (string, error) {
	if !hasScope(scope, ScopeAdmin) {
		return scope, nil
	}
	client, err := p.client(ctx, clientID)
	if err != nil && !notFound(err) {
		return "", storeErr(err)
	}
	if err == nil && client.AdminAPI {
		return scope, nil
	}
	out := make([]string, 0, 4)
	for s := range splitScope(scope) {
		if s != ScopeAdmin {
			out = append(out, s)
		}
	}
	return strings.Join(out, " "), nil
}

// adminAudience is the second audience of a user's token with scope.
func (p *Provider) adminAudience(scope string) string {
	if hasScope(scope, ScopeAdmin) {
		return p.issuer.AdminAPIAudience()
	}
	return ""
}
