package tokens

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// External JWTs in (docs/jwt-issuers.md): an org's trusted issuer's JWT,
// presented with the jwt-bearer grant (RFC 7523) or as a token exchange's
// subject token of type jwt (RFC 8693), becomes our access token for the
// principal the trust maps it to.
const GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer" // RFC 7523 §2.1

// Assertion is an external JWT whose signature, times, issuer, audience
// and subject a trusted issuer's rules accepted.
type Assertion struct {
	// Trust is the org's trusted issuer the token matched.
	Trust directory.JWTIssuer
	// Claims are the token's verified claims.
	Claims map[string]any
}

// claimString returns the claim name of a as a non-empty string.
func (a Assertion) claimString(name string) (string, bool) {
	s, ok := a.Claims[name].(string)
	return s, ok && s != ""
}

// AssertionError is an external JWT refused: Reason is the stable code
// (docs/jwt-issuers.md, "Refusals"), Description what the caller is told,
// Trust the trusted issuer the refusal is recorded under (nil when no
// single org's trust could be named: the refusal is then only logged).
type AssertionError struct {
	Reason      string
	Description string
	Trust       *directory.JWTIssuer
	Cause       error
}

func (e *AssertionError) Error() string {
	s := "external JWT refused: " + e.Reason + ": " + e.Description
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *AssertionError) Unwrap() error { return e.Cause }

// AssertionVerifier checks an external JWT against the trusted issuers of
// every org (package tokens/external implements it). It returns an
// *AssertionError for a refused token, any other error when it cannot
// decide (the store is down).
type AssertionVerifier interface {
	VerifyAssertion(ctx context.Context, token string) (Assertion, error)
}

// JWTIssuerDirectory is the part of the directory the external JWT grants
// use besides IssuerStore: finding the member a user mapping names and
// keeping refusals for the org's admin.
type JWTIssuerDirectory interface {
	FindJWTUser(ctx context.Context, orgID, match, issuer, value string) (directory.Member, error)
	RecordJWTIssuerFailure(ctx context.Context, f directory.JWTIssuerFailure) (bool, error)
}

// ExternalJWTs enables the external JWT grants (IssuerConfig.ExternalJWTs).
type ExternalJWTs struct {
	Verifier  AssertionVerifier
	Directory JWTIssuerDirectory
}

// ExternalJWTRequest is a jwt-bearer or token-exchange (jwt) request.
type ExternalJWTRequest struct {
	// Assertion is the external JWT (assertion, or subject_token).
	Assertion string
	// ClientID is the client the request authenticated, if any (the caller
	// authenticated it: tokens/oauth). Empty: the token's client is the
	// trusted issuer.
	ClientID string
	// Scope and Workspace as for ClientCredentialsRequest.
	Scope, Workspace string
	// Organization, when set (token exchange), is the org (id or name) the
	// token must be for: the trust's org, else invalid_target.
	Organization string
}

// ExternalJWTsEnabled reports whether the issuer serves the external JWT grants.
func (i *Issuer) ExternalJWTsEnabled() bool { return i.cfg.ExternalJWTs.Verifier != nil }

// ExternalJWT mints our access token for the principal a trusted issuer's
// JWT maps to: the trust's service account, or the org member its
// user_claim names (by verified email or upstream identity). The org role
// is the principal's own, lowered to the role claim and to max_role when
// the trust sets them — never above any of them. The token's client_id is
// the authenticated client, else the trust's id (jwi_…); its aud is
// IssuerConfig.Audience when set, else that client_id. It carries no idp
// claim: it stands (introspection, userinfo) while the principal is a member.
//
// Every refusal is invalid_grant with a precise description, logged with
// its reason code and kept for the org's admin (docs/jwt-issuers.md);
// invalid_scope for a scope or workspace the principal may not have; 503
// when the store is down.
func (i *Issuer) ExternalJWT(ctx context.Context, req ExternalJWTRequest) (Token, error) {
	if !i.ExternalJWTsEnabled() {
		return Token{}, &Error{Code: CodeUnsupportedGrantType, Description: "external JWTs are not enabled on this server"}
	}
	a, err := i.cfg.ExternalJWTs.Verifier.VerifyAssertion(ctx, req.Assertion)
	if err != nil {
		return Token{}, i.refuse(ctx, err)
	}
	g, err := i.externalGrant(ctx, a, req)
	if err != nil {
		return Token{}, i.refuse(ctx, err)
	}
	if o := req.Organization; o != "" && o != g.access.Org.ID && !strings.EqualFold(o, g.access.Org.Name) {
		return Token{}, oauthErr(CodeInvalidTarget, "the token's trusted issuer belongs to another organization")
	}
	if err := i.checkScope(req.Scope); err != nil {
		return Token{}, err
	}
	if err := i.resolveWorkspaces(ctx, g, req.Workspace); err != nil {
		return Token{}, err
	}
	tok, meta, err := i.mint(g, nil)
	if err != nil {
		return Token{}, err
	}
	i.cfg.Log.InfoContext(ctx, "external JWT exchanged", "jwt_issuer", a.Trust.ID, "org", a.Trust.OrgID, "sub", g.sub, "role", g.access.Member.Role)
	return Token{AccessToken: string(tok), TokenType: "Bearer", ExpiresIn: int64(i.cfg.AccessTokenTTL / time.Second),
		Scope: req.Scope, ID: string(meta.jti[:]), ExpiresAt: meta.exp}, nil
}

// externalGrant finds the principal and its capped access.
func (i *Issuer) externalGrant(ctx context.Context, a Assertion, req ExternalJWTRequest) (*grant, error) {
	t := &a.Trust
	refused := func(reason, desc string, cause error) error {
		return &AssertionError{Reason: reason, Description: desc, Trust: t, Cause: cause}
	}
	pid, email := t.ServiceAccountID, ""
	if t.UserClaim != "" {
		v, ok := a.claimString(t.UserClaim)
		if !ok {
			return nil, refused("user_claim_missing", fmt.Sprintf("the token has no %q claim naming the user", t.UserClaim), nil)
		}
		if t.UserMatch == directory.JWTMatchEmail {
			if ev, present := a.Claims["email_verified"]; present && ev != true {
				return nil, refused("email_not_verified", "the token says its email is not verified", nil)
			}
		}
		m, err := i.cfg.ExternalJWTs.Directory.FindJWTUser(ctx, t.OrgID, t.UserMatch, t.Issuer, v)
		if errors.Is(err, directory.ErrNotFound) {
			return nil, refused("unknown_user", fmt.Sprintf("no member of the organization matches the token's %q claim", t.UserClaim), err)
		}
		if err != nil {
			return nil, errUnavailable(err)
		}
		pid, email = m.PrincipalID, m.Email
	}
	pa, err := i.store.PrincipalAccess(ctx, t.OrgID, pid)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, refused("not_a_member", "the principal the token maps to is not a member of the organization", err)
	}
	if err != nil {
		return nil, errUnavailable(err)
	}
	role, err := cappedRole(a, pa.Member.Role)
	if err != nil {
		return nil, err
	}
	pa.Member.Role = role // pa is this request's copy
	clientID := req.ClientID
	if clientID == "" {
		clientID = t.ID
	}
	// No idp: it names a connection, whose sign-in standing a user's token
	// would then need (tokenStands); this token stands while the principal
	// is a member.
	g := &grant{sub: pid, clientID: clientID, aud: i.cfg.Audience, scope: req.Scope, name: pa.Member.Name, email: email, access: &pa}
	if g.aud == "" {
		g.aud = clientID
	}
	return g, nil
}

// cappedRole is the org role of a token the trust a.Trust maps to a
// principal whose own role is own: own, lowered to the role claim and to
// max_role when set. "Lower" follows access.OrgRoles' order; a result whose
// permissions are not within each bound is refused rather than granted.
func cappedRole(a Assertion, own access.OrgRole) (access.OrgRole, error) {
	t := &a.Trust
	role := own
	if t.RoleClaim != "" {
		v, ok := a.claimString(t.RoleClaim)
		if !ok || !access.OrgRole(v).Valid() {
			return "", &AssertionError{Reason: "role_claim_invalid", Trust: t,
				Description: fmt.Sprintf("the token's %q claim is not an org role", t.RoleClaim)}
		}
		role = lowerRole(role, access.OrgRole(v))
	}
	if t.MaxRole != "" {
		role = lowerRole(role, t.MaxRole)
	}
	for _, bound := range []access.OrgRole{own, t.MaxRole} {
		if bound != "" && !withinRole(role, bound) {
			return "", &AssertionError{Reason: "role_not_allowed", Trust: t,
				Description: fmt.Sprintf("role %s would exceed %s", role, bound)}
		}
	}
	return role, nil
}

// lowerRole returns the less privileged of a and b in access.OrgRoles' order.
func lowerRole(a, b access.OrgRole) access.OrgRole {
	rank := func(r access.OrgRole) int {
		for i, x := range access.OrgRoles() {
			if x == r {
				return i
			}
		}
		return len(access.OrgRoles())
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// withinRole reports whether every permission role r can have (as the
// owner of a workspace, with every flag) is one bound can have too.
func withinRole(r, bound access.OrgRole) bool {
	most := &access.Membership{Role: access.WorkspaceOwner, CanInvite: true, CanMakePublic: true}
	have := access.Effective(r, most, access.Settings{})
	limit := access.Effective(bound, most, access.Settings{})
	return have&^limit == 0
}

// refuse logs a refused external JWT with its reason code, keeps it for
// the trust's admin (at most one record per trust per second, so a flood
// of bad tokens costs one write a second) and returns the answer:
// invalid_grant with the description. Other errors pass through.
func (i *Issuer) refuse(ctx context.Context, err error) error {
	var ae *AssertionError
	if !errors.As(err, &ae) {
		return err
	}
	attrs := []any{"reason", ae.Reason, "description", ae.Description}
	if ae.Trust != nil {
		attrs = append(attrs, "jwt_issuer", ae.Trust.ID, "org", ae.Trust.OrgID)
	}
	if ae.Cause != nil {
		attrs = append(attrs, "cause", ae.Cause.Error())
	}
	i.cfg.Log.InfoContext(ctx, "external JWT refused", attrs...)
	if ae.Trust != nil && i.jwtFailures.allow(ae.Trust.ID, i.cfg.Now()) {
		_, rerr := i.cfg.ExternalJWTs.Directory.RecordJWTIssuerFailure(ctx, directory.JWTIssuerFailure{OrgID: ae.Trust.OrgID,
			JWTIssuerID: ae.Trust.ID, Reason: ae.Reason, Detail: ae.Description, At: i.cfg.Now()})
		if rerr != nil {
			i.cfg.Log.WarnContext(ctx, "recording an external JWT refusal failed", "jwt_issuer", ae.Trust.ID, "err", rerr)
		}
	}
	return &Error{Code: CodeInvalidGrant, Description: ae.Description, Cause: err}
}

// maxFailureGates bounds failureGate: only trusted issuers' ids get in, so
// it is reached only with that many issuers refusing at once; then it
// starts over.
const maxFailureGates = 10_000

// failureGate lets one refusal per trusted issuer per second be recorded.
type failureGate struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (g *failureGate) allow(id string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil || len(g.last) >= maxFailureGates {
		g.last = map[string]time.Time{}
	}
	if t, ok := g.last[id]; ok && now.Sub(t) < time.Second {
		return false
	}
	g.last[id] = now
	return true
}

// AuthenticateServiceAccount checks a service account's client credentials
// (sa_… and one of its API keys) as ClientCredentials does, failures marked
// for the failure limiter, and returns the account's id.
func (i *Issuer) AuthenticateServiceAccount(ctx context.Context, creds Credentials) (string, error) {
	kp, err := i.authenticate(ctx, creds.ID, creds.Secret)
	return kp.Account.ID, err
}
