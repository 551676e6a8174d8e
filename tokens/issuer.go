package tokens

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// IssuerStore is the part of the directory that minting, introspection and
// revocation use. LookupAPIKey and PrincipalAccess are served from the
// store's cache and TouchAPIKey is buffered, so a warm token request never
// reaches the database.
type IssuerStore interface {
	LookupAPIKey(ctx context.Context, secret string) (directory.KeyPrincipal, error)
	TouchAPIKey(ctx context.Context, keyID string, at time.Time) error
	PrincipalAccess(ctx context.Context, orgID, principalID string) (directory.PrincipalAccess, error)
	GetWorkspace(ctx context.Context, orgID, ref string) (directory.Workspace, error)
	RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error
	TokenRevoked(ctx context.Context, jti string) (bool, error)
	// SessionStanding is the directory's one validity check of a user's
	// sign-in (organization, user, connection), cached and dropped on every
	// change in any replica.
	SessionStanding(ctx context.Context, orgID, userID, connectionID string) (directory.PrincipalAccess, error)
}

// Issuer mints access tokens and answers introspection and revocation. It
// knows nothing of HTTP; package tokens/oauth serves it. It is safe for concurrent use.
type Issuer struct {
	cfg     IssuerConfig
	keys    *Keyring
	store   IssuerStore
	limiter *failureLimiter
	scopes  map[string]bool
	bufs    sync.Pool // *[]byte scratch buffers for payloads and responses
	// jwtFailures gates the recording of refused external JWTs (jwtbearer.go).
	jwtFailures failureGate
	// verified caches the signature checks of access tokens (verified.go).
	verified verifiedTokens
}

// NewIssuer returns an Issuer signing with keys. It fails when the
// configuration is invalid, listing every problem.
func NewIssuer(keys *Keyring, store IssuerStore, cfg IssuerConfig) (*Issuer, error) {
	if keys == nil || store == nil {
		return nil, errors.New("tokens: a keyring and a store are required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("tokens: issuer configuration: %w", err)
	}
	if cfg.AccessTokenTTL > keys.cfg.MaxTokenTTL {
		return nil, fmt.Errorf("tokens: access token lifetime %v exceeds the keyring's maximum token lifetime %v (retired keys would leave the JWKS too early)",
			cfg.AccessTokenTTL, keys.cfg.MaxTokenTTL)
	}
	i := &Issuer{cfg: cfg, keys: keys, store: store, scopes: map[string]bool{},
		limiter: newFailureLimiter(cfg.FailureCounter, cfg.FailedAuthLimit, cfg.FailedAuthSourceLimit, cfg.FailedAuthWindow, defaultFailedAuthClientCap, cfg.Now, cfg.Log)}
	for _, s := range cfg.ServiceAccountScopes {
		i.scopes[s] = true
	}
	i.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return i, nil
}

// LimiterStats returns the failed-authentication limiter's counters (for
// metrics).
func (i *Issuer) LimiterStats() LimiterStats { return i.limiter.Stats() }

// Logger is where the issuer reports request outcomes (IssuerConfig.Log).
func (i *Issuer) Logger() *slog.Logger { return i.cfg.Log }

// IssuerURL returns the issuer identifier, the "iss" of every token.
func (i *Issuer) IssuerURL() string { return i.cfg.Issuer }

// ClientCredentialsRequest is a client-credentials token request of a
// service account: ClientID is its sa_ id and ClientSecret one of its API keys.
type ClientCredentialsRequest struct {
	ClientID     string
	ClientSecret string
	// Scope is the space-separated scope asked for; empty for none.
	Scope string
	// Workspace, when set, narrows the token to that workspace (by name, or
	// "default" for the principal's default workspace).
	Workspace string
}

// Token is a minted access token.
type Token struct {
	AccessToken string
	TokenType   string // always "Bearer"
	ExpiresIn   int64  // seconds
	Scope       string
	ID          string // jti
	ExpiresAt   time.Time
}

// ClientCredentials authenticates a service account with one of its API keys
// and mints its access token. Failures are *Error values: invalid_client for
// any authentication failure (unknown account, unknown, revoked or foreign
// key), 429 temporarily_unavailable while the account is throttled after
// repeated failures, invalid_scope for a scope or workspace it may not have,
// invalid_grant when the account no longer belongs to its org, and 503 when
// the store or the signing key is unavailable.
func (i *Issuer) ClientCredentials(ctx context.Context, req ClientCredentialsRequest) (Token, error) {
	bp := i.bufs.Get().(*[]byte)
	defer i.bufs.Put(bp)
	tok, meta, err := i.clientCredentials(ctx, req, (*bp)[:0])
	if err != nil {
		return Token{}, err
	}
	*bp = tok[:0]
	return Token{AccessToken: string(tok), TokenType: "Bearer", ExpiresIn: int64(i.cfg.AccessTokenTTL / time.Second),
		Scope: req.Scope, ID: string(meta.jti[:]), ExpiresAt: meta.exp}, nil
}

// AppendClientCredentialsResponse is ClientCredentials answering with the
// token response itself: it appends the JSON object of RFC 6749 §5.1 —
// access_token, token_type, expires_in and scope, as encoding/json writes
// TokenResponse — to dst, and on failure returns dst unchanged with the
// same errors. The token is signed straight into dst: the token endpoint
// serves every request from one reused buffer (docs/bench/README.md, "Token
// endpoint against Dex"). Every token is freshly minted; nothing is cached.
func (i *Issuer) AppendClientCredentialsResponse(ctx context.Context, dst []byte, req ClientCredentialsRequest) ([]byte, error) {
	start := len(dst)
	out := append(dst, `{"access_token":"`...) // the compact JWS is base64url and dots: nothing to escape
	out, _, err := i.clientCredentials(ctx, req, out)
	if err != nil {
		return dst[:start], err
	}
	out = append(out, `","token_type":"Bearer","expires_in":`...)
	out = strconv.AppendInt(out, int64(i.cfg.AccessTokenTTL/time.Second), 10)
	if req.Scope != "" {
		out = append(out, `,"scope":`...)
		out = appendString(out, req.Scope)
	}
	return append(out, '}'), nil
}

type tokenMeta struct {
	jti [22]byte // 128 random bits, base64url
	exp time.Time
}

// clientCredentials appends the signed token to dst.
func (i *Issuer) clientCredentials(ctx context.Context, req ClientCredentialsRequest, dst []byte) ([]byte, tokenMeta, error) {
	kp, err := i.authenticate(ctx, req.ClientID, req.ClientSecret)
	if err != nil {
		return dst, tokenMeta{}, err
	}
	if err := i.checkScope(req.Scope); err != nil {
		return dst, tokenMeta{}, err
	}
	pa, err := i.store.PrincipalAccess(ctx, kp.Account.OrgID, kp.Account.ID)
	if errors.Is(err, directory.ErrNotFound) {
		return dst, tokenMeta{}, &Error{Code: CodeInvalidGrant, Description: "the service account is no longer a member of its organization",
			Cause: err}
	}
	if err != nil {
		return dst, tokenMeta{}, errUnavailable(err)
	}
	g := grant{sub: kp.Account.ID, clientID: kp.Account.ID, aud: i.cfg.Audience, scope: req.Scope, name: kp.Account.Name, access: &pa}
	if g.aud == "" {
		g.aud = g.clientID
	}
	if err := i.resolveWorkspaces(ctx, &g, req.Workspace); err != nil {
		return dst, tokenMeta{}, err
	}
	return i.mint(&g, dst)
}

// authenticate checks a service account's client credentials. Failures
// are marked for the failure limiter (failedAuth), which Issuer.Throttle counts;
// a correct secret is never refused.
func (i *Issuer) authenticate(ctx context.Context, clientID, secret string) (directory.KeyPrincipal, error) {
	if !strings.HasPrefix(clientID, "sa_") {
		return directory.KeyPrincipal{}, failedAuth(clientID, errInvalidClient(errors.New("client_id is not a service account")))
	}
	kp, err := i.store.LookupAPIKey(ctx, secret)
	if err != nil {
		if errors.Is(err, directory.ErrNotFound) {
			// Not the store's error: it quotes the start of the presented secret.
			return kp, failedAuth(clientID, errInvalidClient(errors.New("unknown, malformed or revoked API key")))
		}
		return kp, errUnavailable(err)
	}
	// The key was found by its hash; it must also belong to this account.
	if subtle.ConstantTimeCompare([]byte(kp.Account.ID), []byte(clientID)) != 1 {
		return directory.KeyPrincipal{}, failedAuth(clientID, errInvalidClient(errors.New("API key belongs to another service account")))
	}
	if err := i.store.TouchAPIKey(ctx, kp.Key.ID, i.cfg.Now()); err != nil {
		i.cfg.Log.Warn("recording API key use failed", "key", kp.Key.ID, "err", err)
	}
	return kp, nil
}

// checkScope allows only the configured scope values (RFC 6749 §3.3).
func (i *Issuer) checkScope(scope string) error {
	if scope == "" {
		return nil
	}
	for s := range strings.SplitSeq(scope, " ") {
		if !i.scopes[s] {
			return oauthErr(CodeInvalidScope, "scope value not allowed for service accounts")
		}
	}
	return nil
}

// resolveWorkspaces decides which workspaces the token lists and its
// default workspace, narrowing to one workspace when asked.
//
// Narrowing: a member may narrow to a workspace they belong to; an org admin
// to any workspace of the org. Anything else — an unknown name, a workspace
// of another org, one the principal is not a member of — is invalid_scope
// with the same description, so the answer does not reveal which workspaces
// exist. "default" names the principal's default workspace.
func (i *Issuer) resolveWorkspaces(ctx context.Context, g *grant, name string) error {
	pa := g.access
	admin := pa.Member.Role == access.RoleAdmin
	g.first, g.max = -1, i.cfg.MaxTokenWorkspaces
	defIdx := membershipIndex(pa, pa.DefaultWorkspace.ID)
	switch {
	case pa.DefaultWorkspace.ID != "" && (admin || defIdx >= 0):
		g.deflt, g.first = pa.DefaultWorkspace.Name, defIdx
	case len(pa.Workspaces) > 0:
		g.deflt, g.first = pa.Workspaces[0].WorkspaceName, 0
	}
	if name == "" {
		g.truncated = len(pa.Workspaces) > g.max
		return nil
	}
	refused := oauthErr(CodeInvalidScope, "the token cannot be narrowed to that workspace")
	if strings.EqualFold(name, "default") {
		if g.deflt == "" {
			return refused
		}
		name = g.deflt
	}
	if idx := membershipNamed(pa, name); idx >= 0 {
		w := &pa.Workspaces[idx]
		g.first, g.only, g.deflt = idx, true, w.WorkspaceName
		g.narrowed = &WorkspaceRef{ID: w.WorkspaceID, Name: w.WorkspaceName}
		return nil
	}
	if !admin || directory.ValidateWorkspaceName(name) != nil {
		return refused
	}
	w, err := i.store.GetWorkspace(ctx, pa.Org.ID, name)
	if errors.Is(err, directory.ErrNotFound) || (err == nil && (w.OrgID != pa.Org.ID || w.Name != name)) {
		return refused
	}
	if err != nil {
		return errUnavailable(err)
	}
	g.first, g.only, g.deflt = -1, true, w.Name
	g.narrowed = &WorkspaceRef{ID: w.ID, Name: w.Name}
	return nil
}

// membershipIndex finds the membership of workspace id, or returns -1.
func membershipIndex(pa *directory.PrincipalAccess, id string) int {
	for i := range pa.Workspaces {
		if id != "" && pa.Workspaces[i].WorkspaceID == id {
			return i
		}
	}
	return -1
}

// membershipNamed finds the membership of the workspace named name, or returns -1.
func membershipNamed(pa *directory.PrincipalAccess, name string) int {
	for i := range pa.Workspaces {
		if pa.Workspaces[i].WorkspaceName == name {
			return i
		}
	}
	return -1
}

// mint signs the grant with the active key and appends the token to dst.
func (i *Issuer) mint(g *grant, dst []byte) ([]byte, tokenMeta, error) {
	return i.mintWithID(g, dst, newJTI())
}

// newJTI returns 128 random bits, base64url: a token id.
func newJTI() [22]byte {
	var rnd [16]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	var jti [22]byte
	base64.RawURLEncoding.Encode(jti[:], rnd[:])
	return jti
}

// mintWithID is mint with a token id chosen by the caller (an authorization
// code records the id of the token it will issue, to revoke it on replay).
func (i *Issuer) mintWithID(g *grant, dst []byte, jti [22]byte) ([]byte, tokenMeta, error) {
	ks := i.keys.cur.Load()
	if ks.signer == nil {
		return dst, tokenMeta{}, errUnavailable(ErrNoSigningKey)
	}
	now := i.cfg.Now()
	exp := now.Add(i.cfg.AccessTokenTTL)
	if !g.notAfter.IsZero() && g.notAfter.Before(exp) {
		exp = g.notAfter
	}

	bp := i.bufs.Get().(*[]byte)
	payload := g.appendPayload((*bp)[:0], i.cfg.Issuer, now.Unix(), exp.Unix(), jti[:])
	// Long names can push even a capped list past the size bound: list fewer.
	for len(payload) > maxPayloadBytes && !g.only && g.max > 1 {
		g.max--
		g.truncated = true
		payload = g.appendPayload(payload[:0], i.cfg.Issuer, now.Unix(), exp.Unix(), jti[:])
	}
	out, err := ks.signer.appendJWS(dst, payload)
	*bp = payload[:0]
	i.bufs.Put(bp)
	if err != nil {
		return dst, tokenMeta{}, errServer(err)
	}
	return out, tokenMeta{jti: jti, exp: time.Unix(exp.Unix(), 0)}, nil
}

func unixTime(sec int64) time.Time { return time.Unix(sec, 0) }
