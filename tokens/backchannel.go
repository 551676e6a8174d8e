package tokens

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/session"
)

// OpenID Connect Back-Channel Logout 1.0 (docs/logout.md). The provider
// records, per browser session, which clients with a
// backchannel_logout_uri received tokens in it; when the session ends,
// package tokens/backchannel takes those records and POSTs each client a
// logout token minted here.

// KindBackchannelClient is the session-store record "client C received
// tokens in browser session S" (key: S's Handle, ".", C's id; value: the
// user id), kept until the session's absolute expiry and taken once when
// the session ends. Only a client with a backchannel_logout_uri gets one,
// at a code redemption (an authenticated client and user), so a session
// holds at most one per such client.
const KindBackchannelClient session.Kind = "bcl_client"

// BackchannelKey is the KindBackchannelClient key of (session handle, client).
func BackchannelKey(sessionHandle, clientID string) string { return sessionHandle + "." + clientID }

// LogoutEvent is the events member of a logout token (§2.4).
const LogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutTokenTTL is a logout token's lifetime (§2.4 recommends a short
// one; each delivery attempt mints a fresh token).
const LogoutTokenTTL = 2 * time.Minute

// LogoutTokenClaims are the claims of a logout token (§2.4): no nonce.
type LogoutTokenClaims struct {
	Issuer    string                     `json:"iss"`
	Subject   string                     `json:"sub,omitempty"`
	Audience  string                     `json:"aud"`
	IssuedAt  int64                      `json:"iat"`
	ExpiresAt int64                      `json:"exp"`
	JWTID     string                     `json:"jti"`
	SessionID string                     `json:"sid,omitempty"`
	Events    map[string]json.RawMessage `json:"events"`
}

// LogoutToken returns a logout token for clientID about the end of the
// browser session sid (its Handle, the sid of the ID tokens issued in it)
// of userID, signed with the ID-token key under typ logout+jwt. It fails
// with a 503 *Error when no signing key is loaded.
func (i *Issuer) LogoutToken(clientID, userID, sid string) (string, error) {
	s := i.keys.cur.Load().idSigner
	if s == nil {
		return "", errUnavailable(ErrNoSigningKey)
	}
	now := i.cfg.Now()
	jti := newJTI()
	payload, err := json.Marshal(LogoutTokenClaims{Issuer: i.cfg.Issuer, Subject: userID, Audience: clientID,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(LogoutTokenTTL).Unix(), JWTID: string(jti[:]), SessionID: sid,
		Events: map[string]json.RawMessage{LogoutEvent: json.RawMessage(`{}`)}})
	if err != nil {
		return "", errServer(err)
	}
	out, err := s.appendJWSWithHeader(nil, s.logoutHeader, payload)
	if err != nil {
		return "", errServer(err)
	}
	return string(out), nil
}

// recordBackchannelClient notes that client received tokens in the browser
// session sid of userID, until the session's absolute expiry (Unix
// seconds; 0: the session store's default lifetime). A failure is logged,
// not returned: the user gets their tokens, and this client then hears of
// the session's end only through the id_token's exp.
func (p *Provider) recordBackchannelClient(ctx context.Context, client directory.Client, userID, sid string, sessionEnds int64) {
	if client.BackchannelLogoutURI == "" || sid == "" || strings.ContainsRune(sid, '.') {
		return
	}
	ttl := session.DefaultSessionLifetime
	if sessionEnds > 0 {
		ttl = time.Until(time.Unix(sessionEnds, 0))
	}
	if ttl <= 0 {
		return
	}
	err := p.sessions.PutOnce(ctx, KindBackchannelClient, BackchannelKey(sid, client.ID), []byte(userID), ttl)
	if err != nil && !isExists(err) {
		p.log.WarnContext(ctx, "recording a back-channel logout client failed; it will not hear of this session's end",
			"client_id", client.ID, "session", sid, "err", err)
	}
}
