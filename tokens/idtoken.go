package tokens

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

// IDTokenClaims are the claims of an ID token (OIDC Core §2, §3.1.3.6,
// §5.1). Email, EmailVerified and Name are present only when the scope
// asked for them (email, profile). Org is the organization the user signed
// in to, as in access tokens.
type IDTokenClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ExpiresAt int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	AuthTime  int64  `json:"auth_time"`
	// Nonce echoes the authorization request's nonce; never in an ID token
	// issued by a refresh.
	Nonce string   `json:"nonce,omitempty"`
	AMR   []string `json:"amr,omitempty"`
	// SessionID is the broker session (its Handle), as in access tokens.
	SessionID       string      `json:"sid,omitempty"`
	AuthorizedParty string      `json:"azp"`
	AccessTokenHash string      `json:"at_hash,omitempty"`
	Email           string      `json:"email,omitempty"`
	EmailVerified   *bool       `json:"email_verified,omitempty"`
	Name            string      `json:"name,omitempty"`
	Org             *IDTokenOrg `json:"org,omitempty"`
}

// IDTokenOrg is the org claim of ID tokens and userinfo.
type IDTokenOrg struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// appendIDClaims appends c as JSON, byte for byte what encoding/json makes
// of it, without reflection.
func appendIDClaims(b []byte, c *IDTokenClaims) []byte {
	b = append(b, `{"iss":`...)
	b = appendString(b, c.Issuer)
	b = append(b, `,"sub":`...)
	b = appendString(b, c.Subject)
	b = append(b, `,"aud":`...)
	b = appendString(b, c.Audience)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.ExpiresAt, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"auth_time":`...)
	b = strconv.AppendInt(b, c.AuthTime, 10)
	if c.Nonce != "" {
		b = append(b, `,"nonce":`...)
		b = appendString(b, c.Nonce)
	}
	if len(c.AMR) > 0 {
		b = append(b, `,"amr":`...)
		b = appendStrings(b, c.AMR)
	}
	if c.SessionID != "" {
		b = append(b, `,"sid":`...)
		b = appendString(b, c.SessionID)
	}
	b = append(b, `,"azp":`...)
	b = appendString(b, c.AuthorizedParty)
	if c.AccessTokenHash != "" {
		b = append(b, `,"at_hash":`...)
		b = appendString(b, c.AccessTokenHash)
	}
	if c.Email != "" {
		b = append(b, `,"email":`...)
		b = appendString(b, c.Email)
	}
	if c.EmailVerified != nil {
		b = append(b, `,"email_verified":`...)
		b = strconv.AppendBool(b, *c.EmailVerified)
	}
	if c.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, c.Name)
	}
	if c.Org != nil {
		b = append(b, `,"org":{"id":`...)
		b = appendString(b, c.Org.ID)
		b = append(b, `,"name":`...)
		b = appendString(b, c.Org.Name)
		b = append(b, `,"role":`...)
		b = appendString(b, c.Org.Role)
		b = append(b, '}')
	}
	return append(b, '}')
}

// idTokenClaims builds the ID token of a grant for client, accompanying
// accessToken. nonce is empty for refreshes.
func (p *Provider) idTokenClaims(pa *directory.PrincipalAccess, clientID, scope string, sig signIn, nonce string, now time.Time) IDTokenClaims {
	c := IDTokenClaims{Issuer: p.issuer.cfg.Issuer, Subject: pa.Member.PrincipalID, Audience: clientID,
		ExpiresAt: now.Add(p.cfg.IDTokenTTL).Unix(), IssuedAt: now.Unix(), AuthTime: sig.AuthTime, Nonce: nonce, AMR: sig.AMR,
		SessionID: sig.SessionID, AuthorizedParty: clientID,
		Org: &IDTokenOrg{ID: pa.Org.ID, Name: pa.Org.Name, Role: string(pa.Member.Role)}}
	if hasScope(scope, ScopeEmail) && pa.Member.Email != "" {
		ev := sig.EmailVerified
		c.Email, c.EmailVerified = pa.Member.Email, &ev
	}
	if hasScope(scope, ScopeProfile) {
		c.Name = pa.Member.Name
	}
	return c
}

// appendIDToken signs c with the ID-token key, setting at_hash for
// accessToken, and appends the compact JWS to dst.
func (p *Provider) appendIDToken(dst []byte, c *IDTokenClaims, accessToken []byte) ([]byte, error) {
	s := p.keys.cur.Load().idSigner
	if s == nil {
		return dst, errUnavailable(ErrNoSigningKey)
	}
	c.AccessTokenHash = tokenHash(s.alg.String(), accessToken)
	bp := p.issuer.bufs.Get().(*[]byte)
	payload := appendIDClaims((*bp)[:0], c)
	out, err := s.appendJWSWithHeader(dst, s.idHeader, payload)
	*bp = payload[:0]
	p.issuer.bufs.Put(bp)
	if err != nil {
		return dst, errServer(err)
	}
	return out, nil
}

// tokenHash is at_hash (OIDC Core §3.1.3.6): the left half of the hash of
// the token's ASCII octets, with the hash of the JWS algorithm — SHA-256
// for ES256 and RS256, SHA-512 for EdDSA over Ed25519.
func tokenHash(alg string, token []byte) string {
	if alg == string(EdDSA) {
		sum := sha512.Sum512(token)
		return base64.RawURLEncoding.EncodeToString(sum[:32])
	}
	sum := sha256.Sum256(token)
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// verifyIDTokenHint checks an ID token presented back to us (the logout
// endpoint's id_token_hint): signed by a key we still publish, issued by
// us, typ JWT. Expiry is not checked: OIDC RP-Initiated Logout lets an
// expired ID token identify the session. It reports false for anything
// else; the error is set only when the key set cannot be loaded.
func (p *Provider) verifyIDTokenHint(ctx context.Context, token string) (IDTokenClaims, bool, error) {
	var c IDTokenClaims
	ks, err := p.keys.current(ctx, true)
	if err != nil {
		return c, false, errUnavailable(err)
	}
	if len(token) > maxTokenLen || strings.Count(token, ".") != 2 {
		return c, false, nil
	}
	// The header rule is tokens/verify's (verify.ParseHeader); the key
	// found by kid decides the algorithm.
	h, err := verify.ParseHeader(token[:strings.IndexByte(token, '.')])
	if err != nil || h.Typ != "JWT" {
		return c, false, nil
	}
	vk := ks.public[h.KID]
	if vk == nil || h.Alg != vk.alg.String() {
		return c, false, nil
	}
	payload, ok := verify.Signed(token, vk.alg, vk.raw)
	if !ok {
		return c, false, nil
	}
	if json.NewDecoder(bytes.NewReader(payload)).Decode(&c) != nil {
		return c, false, nil
	}
	if c.Issuer != p.issuer.cfg.Issuer || c.Subject == "" || c.Audience == "" ||
		c.IssuedAt > p.now().Unix()+int64(p.keys.cfg.Leeway/time.Second) {
		return c, false, nil
	}
	return c, true, nil
}
