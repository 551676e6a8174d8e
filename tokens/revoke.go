package tokens

import (
	"context"
	"strings"
)

// Revoke serves one RFC 7009 revocation request of a service account
// (sa_…) authenticated with an API key, in a deployment without a
// Provider: an access token issued to it is revoked (see revoke); anything
// else is nothing to do. Failed authentications are marked for
// Issuer.Throttle like at the token endpoint.
func (i *Issuer) Revoke(ctx context.Context, caller Credentials, token string) error {
	kp, err := i.authenticate(ctx, caller.ID, caller.Secret)
	if err != nil {
		return err
	}
	return i.revoke(ctx, kp.Account.ID, token, nil)
}

// Revoke serves one RFC 7009 revocation request, for every client type:
// service accounts (sa_…) with an API key, confidential registered clients
// (cli_…) with their secret, public registered clients with client_id
// alone (RFC 7009 §2.1: public clients may revoke; the token is itself the
// proof). Failed authentications are marked for Issuer.Throttle like at
// the token endpoint (a correct secret is never refused).
func (p *Provider) Revoke(ctx context.Context, caller Credentials, token string) error {
	var callerID string
	if strings.HasPrefix(caller.ID, "sa_") {
		kp, err := p.issuer.authenticate(ctx, caller.ID, caller.Secret)
		if err != nil {
			return err
		}
		callerID = kp.Account.ID
	} else {
		client, err := p.AuthenticateClient(ctx, caller)
		if err != nil {
			return err
		}
		callerID = client.ID
	}
	return p.issuer.revoke(ctx, callerID, token, p.revokeRefresh)
}

// revoke revokes token for the authenticated client callerID. The token is
// told apart by its shape (token_type_hint is not needed, RFC 7009 §2.1
// lets the server ignore it):
//   - an access token issued to the caller: its jti is revoked until it
//     expires (introspection answers active:false, userinfo 401); one issued
//     to another client is unauthorized_client and stays valid;
//   - a refresh token (the current token of a family), when refresh is not
//     nil: the family of the caller is revoked — every token of it, rotated
//     or not. A family of another client is revoked too: its token has
//     leaked, the rule of the token endpoint's refresh grant. Access tokens
//     minted from the family stay valid until they expire (AccessTokenTTL,
//     10 min by default).
//   - anything else (unknown, expired, already revoked, a rotated refresh
//     token): nothing to do, a nil error (RFC 7009 §2.2).
func (i *Issuer) revoke(ctx context.Context, callerID, token string, refresh func(ctx context.Context, callerID, token string) error) error {
	if token == "" {
		return errInvalidRequest("the token parameter is required")
	}
	if len(token) > maxTokenLen {
		return nil
	}
	if strings.Count(token, ".") == 2 {
		_, err := i.revokeAccessToken(ctx, callerID, token)
		return err
	}
	if refresh == nil {
		return nil
	}
	return refresh(ctx, callerID, token)
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
