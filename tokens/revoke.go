package tokens

import (
	"context"
	"strings"
)

// revoke serves one RFC 7009 revocation request, for every client type:
// service accounts (sa_…) with an API key, confidential registered clients
// (cli_…) with their secret (client_secret_basic or client_secret_post),
// public registered clients with client_id alone (RFC 7009 §2.1: public
// clients may revoke; the token is itself the proof). Failed
// authentications count in the failure limiter like at the token endpoint
// (a correct secret is never refused).
//
// Then the token, told apart by its shape (token_type_hint is not needed,
// RFC 7009 §2.1 lets the server ignore it):
//   - an access token issued to the caller: its jti is revoked until it
//     expires (introspection answers active:false, userinfo 401); one issued
//     to another client is unauthorized_client and stays valid;
//   - a refresh token (the current token of a family): the family of the
//     caller is revoked — every token of it, rotated or not. A family of
//     another client is revoked too: its token has leaked, the rule of the
//     token endpoint's refresh grant. Access tokens minted from the family
//     stay valid until they expire (AccessTokenTTL, 10 min by default).
//   - anything else (unknown, expired, already revoked, a rotated refresh
//     token): nothing to do, 200 (RFC 7009 §2.2).
func (s *Server) revoke(ctx context.Context, f *form) error {
	caller, err := s.revocationCaller(ctx, f)
	if err != nil {
		return err
	}
	if f.token == "" {
		return errInvalidRequest("the token parameter is required")
	}
	if len(f.token) > maxTokenLen {
		return nil
	}
	if strings.Count(f.token, ".") == 2 {
		_, err := s.issuer.revokeAccessToken(ctx, caller, f.token)
		return err
	}
	if s.provider == nil {
		return nil
	}
	return s.provider.revokeRefresh(ctx, caller, f.token)
}

// revocationCaller authenticates the client of a revocation request and
// returns its id.
func (s *Server) revocationCaller(ctx context.Context, f *form) (string, error) {
	id := f.clientIDForLog()
	if s.provider == nil || strings.HasPrefix(id, "sa_") {
		creds, err := f.credentials()
		if err != nil {
			return "", err
		}
		kp, err := s.issuer.authenticate(ctx, creds.ID, creds.Secret)
		return kp.Account.ID, err
	}
	client, err := s.provider.authenticateClient(ctx, f)
	if err != nil {
		return "", err
	}
	return client.ID, nil
}

// revokeRefresh ends the family whose current refresh token is token.
func (p *Provider) revokeRefresh(ctx context.Context, callerID, token string) error {
	fam, err := p.sessions.GetRefresh(ctx, token)
	if notFound(err) {
		return nil
	}
	if err != nil {
		return storeErr(err)
	}
	if err := p.sessions.RevokeFamily(ctx, fam.ID); err != nil {
		return storeErr(err)
	}
	if fam.ClientID != callerID {
		p.log.WarnContext(ctx, "refresh token of another client presented for revocation: family revoked (leaked)",
			"client_id", callerID, "family_client_id", fam.ClientID, "refresh_family", fam.ID, "user", fam.UserID)
		return nil
	}
	p.log.InfoContext(ctx, "refresh token revoked", "client_id", callerID, "refresh_family", fam.ID, "user", fam.UserID)
	return nil
}
