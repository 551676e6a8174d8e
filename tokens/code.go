package tokens

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// authCode is what an authorization code stands for, stored under
// session.KindAuthCode for CodeTTL. It is bound to the client, the redirect
// URI, the PKCE challenge and the sign-in.
type authCode struct {
	ClientID    string `json:"client_id"`
	RedirectURI string `json:"redirect_uri"`
	Challenge   string `json:"code_challenge,omitempty"`
	Nonce       string `json:"nonce,omitempty"`
	Scope       string `json:"scope,omitempty"`
	UserID      string `json:"user"`
	OrgID       string `json:"org"`
	signIn
	// IssuedAt is in Unix milliseconds.
	IssuedAt int64 `json:"iat"`
	// SessionEnds is the browser session's absolute expiry (Unix seconds)
	// when the refresh-token family is session-bound (no offline_access):
	// the family ends then at the latest, and at logout (docs/security.md,
	// "Refresh tokens and the browser session").
	SessionEnds int64 `json:"sess_end,omitempty"`
	// SessionExpires is the browser session's absolute expiry (Unix
	// seconds), whatever the scope: how long the back-channel logout
	// record of the client lives (recordBackchannelClient).
	SessionExpires int64 `json:"sess_exp,omitempty"`
	issued
}

// issued names what the redemption of a code issues, chosen when the code
// is made and stored under session.KindRedeemedCode too, so that a replayed
// code finds what the first redemption issued and revokes it (RFC 6749
// §4.1.2, RFC 9700 §4.2.4) — even while the first redemption is still
// running.
type issued struct {
	// FamilyID is the refresh-token family, empty when none is issued.
	FamilyID string `json:"family,omitempty"`
	// JTI is the access token's id.
	JTI string `json:"jti"`
}

// issueCode makes the authorization code for a request and the session
// that satisfies it, after re-checking the user's standing (errors wrap
// ErrNoStanding) and any workspace narrowing (invalid_scope).
func (p *Provider) issueCode(ctx context.Context, req *pendingAuthorization, sess session.Session) (string, error) {
	pa, err := p.standing(ctx, sess.OrgID, sess.UserID, sess.ConnectionID)
	if err != nil {
		return "", err
	}
	sig := signIn{SessionID: sess.Handle, ConnectionID: sess.ConnectionID, AMR: sess.AMR, AuthTime: sess.AuthTime.Unix(), Workspace: req.Workspace}
	g := userGrant(&pa, req.ClientID, req.Scope, sig)
	if err := p.issuer.resolveWorkspaces(ctx, &g, req.Workspace); err != nil {
		return "", err
	}
	jti := newJTI()
	rec := authCode{ClientID: req.ClientID, RedirectURI: req.RedirectURI, Challenge: req.Challenge, Nonce: req.Nonce,
		Scope: req.Scope, UserID: sess.UserID, OrgID: sess.OrgID, signIn: sig, IssuedAt: p.now().UnixMilli(),
		SessionExpires: sess.AbsoluteExpiry.Unix(), issued: issued{JTI: string(jti[:])}}
	switch {
	case hasScope(req.Scope, ScopeOfflineAccess):
		// Offline access outlives the browser session (OIDC Core §11).
		rec.FamilyID = session.NewFamilyID()
	case hasScope(req.Scope, ScopeOpenID):
		// A session-bound family: it ends with the browser session, at
		// logout or at the session's absolute expiry. Whether the client
		// may hold refresh tokens at all is decided at redemption.
		rec.FamilyID = session.NewFamilyID()
		rec.SessionEnds = sess.AbsoluteExpiry.Unix()
	}
	value, err := json.Marshal(rec)
	if err != nil {
		return "", errServer(err)
	}
	redeemed, err := json.Marshal(rec.issued)
	if err != nil {
		return "", errServer(err)
	}
	code := RandomToken()
	// The replay record outlives the code by an access token's lifetime:
	// a replay while the first access token is alive revokes it.
	replayTTL := p.cfg.CodeTTL + p.issuer.cfg.AccessTokenTTL + p.keys.cfg.Leeway
	if err := p.sessions.PutOnce(ctx, session.KindRedeemedCode, code, redeemed, replayTTL); err != nil {
		return "", storeErr(err)
	}
	if err := p.sessions.PutOnce(ctx, session.KindAuthCode, code, value, p.cfg.CodeTTL); err != nil {
		return "", storeErr(err)
	}
	return code, nil
}

// hasScope reports whether the space-separated scope contains v.
func hasScope(scope, v string) bool {
	for s := range strings.SplitSeq(scope, " ") {
		if s == v {
			return true
		}
	}
	return false
}

// errBadGrant is the one answer for a code or refresh token that is not
// valid for the client, whatever the reason (logged as the cause).
func errBadGrant(cause error) *Error {
	return &Error{Code: CodeInvalidGrant, Description: "the grant is invalid, expired, already used or was issued to another client",
		Cause: cause}
}

// codeGrant is a token request with grant_type=authorization_code.
type codeGrant struct {
	code, redirectURI, verifier string
}

// redeemCode exchanges an authorization code (RFC 6749 §4.1.3) for the
// authenticated client. A code
// presented a second time is invalid_grant, and revokes the refresh-token
// family and the access token its first redemption issued.
func (p *Provider) redeemCode(ctx context.Context, client directory.Client, req codeGrant) (TokenResponse, error) {
	rec, err := p.takeCode(ctx, client, req)
	if err != nil {
		return TokenResponse{}, err
	}
	pa, err := p.standing(ctx, rec.OrgID, rec.UserID, rec.ConnectionID)
	if err != nil {
		return TokenResponse{}, err
	}
	if hasScope(rec.Scope, ScopeEmail) {
		u, err := p.dir.GetUser(ctx, rec.UserID)
		if notFound(err) {
			return TokenResponse{}, lostStanding("the user was deleted")
		}
		if err != nil {
			return TokenResponse{}, storeErr(err)
		}
		rec.EmailVerified = u.EmailVerified
	}
	var refresh string
	if !slices.Contains(client.GrantTypes, GrantRefreshToken) {
		rec.FamilyID = "" // a client not allowed refresh tokens gets none
	}
	if rec.FamilyID != "" {
		if refresh, err = p.createFamily(ctx, client, &rec); err != nil {
			return TokenResponse{}, err
		}
	}
	var jti [22]byte
	copy(jti[:], rec.JTI)
	out, err := p.tokenResponse(ctx, &pa, client.ID, rec.Scope, rec.signIn, rec.Nonce, jti, refresh)
	if err != nil {
		if rec.FamilyID != "" {
			p.revokeFamily(ctx, rec.FamilyID, "token response failed")
		}
		return out, err
	}
	p.recordBackchannelClient(ctx, client, rec.UserID, rec.SessionID, rec.SessionExpires)
	p.log.InfoContext(ctx, "authorization code redeemed", "client_id", client.ID, "user", rec.UserID, "org", rec.OrgID,
		"session", rec.SessionID, "jti", rec.JTI, "refresh_family", rec.FamilyID)
	return out, nil
}

// takeCode redeems the code (once) and checks it against the request:
// the same client, the same redirect URI, not expired, the PKCE verifier.
func (p *Provider) takeCode(ctx context.Context, client directory.Client, req codeGrant) (authCode, error) {
	var rec authCode
	switch {
	case req.code == "":
		return rec, errInvalidRequest("code is required")
	case req.redirectURI == "":
		return rec, errInvalidRequest("redirect_uri is required")
	case !IsRandomToken(req.code):
		return rec, errBadGrant(errors.New("malformed code"))
	}
	raw, err := p.sessions.TakeOnce(ctx, session.KindAuthCode, req.code)
	if notFound(err) {
		p.replayed(ctx, client, req.code)
		return rec, errBadGrant(errors.New("unknown, expired or already redeemed code"))
	}
	if err != nil {
		return rec, storeErr(err)
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, errServer(err)
	}
	switch {
	case rec.ClientID != client.ID:
		return rec, errBadGrant(errors.New("code issued to client " + rec.ClientID))
	case rec.RedirectURI != req.redirectURI:
		return rec, errBadGrant(errors.New("redirect_uri differs from the authorization request's"))
	case p.now().UnixMilli()-rec.IssuedAt > p.cfg.CodeTTL.Milliseconds():
		return rec, errBadGrant(errors.New("code expired"))
	}
	return rec, checkPKCE(rec.Challenge, req.verifier)
}

// createFamily starts the refresh-token family the code named and returns
// its first token.
func (p *Provider) createFamily(ctx context.Context, client directory.Client, rec *authCode) (string, error) {
	snapshot, err := json.Marshal(rec.signIn)
	if err != nil {
		return "", errServer(err)
	}
	expires := p.now().Add(p.cfg.RefreshTokenTTL)
	if rec.SessionEnds > 0 && time.Unix(rec.SessionEnds, 0).Before(expires) {
		expires = time.Unix(rec.SessionEnds, 0)
	}
	tok, err := p.sessions.CreateRefresh(ctx, session.RefreshFamily{ID: rec.FamilyID, UserID: rec.UserID, OrgID: rec.OrgID,
		ClientID: client.ID, Scope: rec.Scope, SessionID: rec.SessionID, AuthTime: time.Unix(rec.AuthTime, 0), Claims: snapshot,
		ExpiresAt: expires})
	if err != nil {
		return "", storeErr(err)
	}
	return tok, nil
}

// replayed revokes what a code's first redemption issued, when code was
// issued and is presented again.
func (p *Provider) replayed(ctx context.Context, client directory.Client, code string) {
	raw, err := p.sessions.TakeOnce(ctx, session.KindRedeemedCode, code)
	if err != nil {
		if !notFound(err) {
			p.log.ErrorContext(ctx, "reading a redeemed code failed; tokens of a possibly replayed code not revoked", "client_id", client.ID, "err", err)
		}
		return
	}
	var is issued
	if err := json.Unmarshal(raw, &is); err != nil {
		p.log.ErrorContext(ctx, "redeemed-code record unreadable", "err", err)
		return
	}
	p.log.WarnContext(ctx, "authorization code replayed: revoking what it issued", "client_id", client.ID, "jti", is.JTI, "refresh_family", is.FamilyID)
	if is.FamilyID != "" {
		p.revokeFamily(ctx, is.FamilyID, "authorization code replayed")
	}
	// The access token, if it was issued, expires at the latest one
	// lifetime from now.
	if err := p.issuer.store.RevokeToken(ctx, is.JTI, p.now().Add(p.issuer.cfg.AccessTokenTTL+p.keys.cfg.Leeway)); err != nil {
		p.log.ErrorContext(ctx, "revoking the access token of a replayed code failed", "jti", is.JTI, "err", err)
	}
}

func (p *Provider) revokeFamily(ctx context.Context, familyID, why string) {
	if err := p.sessions.RevokeFamily(ctx, familyID); err != nil {
		p.log.ErrorContext(ctx, "revoking a refresh-token family failed", "refresh_family", familyID, "why", why, "err", err)
	}
}

// checkPKCE verifies the code verifier against the stored S256 challenge
// (RFC 7636 §4.6). A verifier for a code issued without a challenge is
// refused too (RFC 9700 §2.1.1: no PKCE downgrade).
func checkPKCE(challenge, verifier string) error {
	switch {
	case challenge == "" && verifier == "":
		return nil
	case challenge == "":
		return errBadGrant(errors.New("code_verifier sent for a code issued without code_challenge"))
	case verifier == "":
		return errBadGrant(errors.New("code_verifier missing"))
	case len(verifier) < 43 || len(verifier) > 128 || !isPKCEVerifier(verifier):
		return errBadGrant(errors.New("malformed code_verifier"))
	}
	sum := sha256.Sum256([]byte(verifier))
	var enc [43]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	if subtle.ConstantTimeCompare(enc[:], []byte(challenge)) != 1 {
		return errBadGrant(errors.New("code_verifier does not match code_challenge"))
	}
	return nil
}

// isPKCEVerifier: [A-Za-z0-9-._~] (RFC 7636 §4.1).
func isPKCEVerifier(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
