package external

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/tokens/verify"
)

// keySet returns the key set of a trusted issuer: its registered jwks_uri,
// or the one its OpenID Connect Discovery document names. Sets are kept by
// URL (verify.RemoteKeySet: cached, an unknown kid refreshes at most once
// per MinRefreshInterval, the last good keys survive an outage); only a
// trusted issuer's URL ever gets in, and at most MaxKeySets are kept.
func (v *Verifier) keySet(ctx context.Context, trust *directory.JWTIssuer) (*verify.RemoteKeySet, error) {
	u := trust.JWKSURI
	if u == "" {
		var err error
		if u, err = v.discover(ctx, trust.Issuer); err != nil {
			return nil, err
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.sets[u]; ok {
		return s, nil
	}
	s, err := verify.NewRemoteKeySet(u, verify.RemoteKeySetConfig{HTTPClient: v.client, MinRefreshInterval: v.minRefresh,
		Logger: v.log, Now: v.now, KeysWithoutKID: true})
	if err != nil {
		return nil, err
	}
	if len(v.sets) >= v.maxSets {
		for k := range v.sets { // drop one: with only trusted issuers in, this is rare
			delete(v.sets, k)
			break
		}
	}
	v.sets[u] = s
	return s, nil
}

// discover reads jwks_uri from the issuer's discovery document (OpenID
// Connect Discovery §4), kept DefaultDiscoveryMaxAge; a failed fetch keeps
// the last good answer. The document must name the same issuer (§4.3).
func (v *Verifier) discover(ctx context.Context, issuer string) (string, error) {
	v.mu.Lock()
	d, ok := v.disc[issuer]
	v.mu.Unlock()
	if ok && v.now().Before(d.until) {
		return d.jwksURI, nil
	}
	u, err := v.fetchDiscovery(ctx, issuer)
	if err != nil {
		if ok {
			v.log.WarnContext(ctx, "external: discovery failed; keeping the last jwks_uri", "issuer", issuer, "err", err)
			return d.jwksURI, nil
		}
		return "", err
	}
	v.mu.Lock()
	if len(v.disc) >= v.maxSets {
		clear(v.disc)
	}
	v.disc[issuer] = discovered{jwksURI: u, until: v.now().Add(DefaultDiscoveryMaxAge)}
	v.mu.Unlock()
	return u, nil
}

func (v *Verifier) fetchDiscovery(ctx context.Context, issuer string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery answered %s", resp.Status)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocBytes)).Decode(&doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery names issuer %q, not %q", clip(doc.Issuer), issuer)
	}
	if err := directory.CheckIdPURL(doc.JWKSURI); err != nil {
		return "", errors.New("discovery: jwks_uri: " + err.Error())
	}
	return doc.JWKSURI, nil
}
