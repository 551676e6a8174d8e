package tokens

import (
	"context"
	"errors"
	"fmt"

	"github.com/ssobroker/ssobroker/directory"
)

// ErrNoStanding means a user's sign-in no longer grants tokens: the user
// left the organization (or it was deleted), or the connection they signed
// in through was deleted or disabled. The token endpoint answers
// invalid_grant; the authorization endpoint sends the user to sign in again.
var ErrNoStanding = errors.New("tokens: the sign-in no longer grants tokens")

// standing re-checks, at every issuance and every refresh, the sign-in the
// grant came from with the directory's one validity check,
// directory.SessionStanding: the user is still a member of the org, the org
// exists, and the connection they signed in through still exists, belongs
// to the org and is enabled (authentik GHSA-9g4j-v8w5-7x42: deactivated
// users kept access). A session opened by an operator's sign-in link
// (directory.LinkConnection) grants no tokens to applications: ID tokens
// and access tokens name the IdP the user signed in through, and there is
// none. It returns the user's current access, an invalid_grant *Error
// wrapping ErrNoStanding, or a 503 when the directory is unavailable.
func (p *Provider) standing(ctx context.Context, orgID, userID, connectionID string) (directory.PrincipalAccess, error) {
	if connectionID == directory.LinkConnection {
		return directory.PrincipalAccess{}, lostStanding("a session opened by a sign-in link grants no tokens to applications: sign in through the organization's IdP")
	}
	pa, err := p.dir.SessionStanding(ctx, orgID, userID, connectionID)
	if errors.Is(err, directory.ErrNoStanding) {
		return pa, noStanding(err)
	}
	if err != nil {
		return pa, storeErr(err)
	}
	return pa, nil
}

// lostStanding is the answer to a grant whose sign-in no longer stands;
// why (logged, never shown) says which rule failed.
func lostStanding(why string) *Error { return noStanding(errors.New(why)) }

// noStanding is lostStanding for the directory's refusal cause.
func noStanding(cause error) *Error {
	return &Error{Code: CodeInvalidGrant, Description: "the grant is no longer valid; sign in again",
		Cause: fmt.Errorf("%w: %w", ErrNoStanding, cause)}
}

// userGrant is what an access token of a user states, from the current
// directory and the sign-in the grant came from.
func userGrant(pa *directory.PrincipalAccess, clientID, scope string, sig signIn) grant {
	return grant{sub: pa.Member.PrincipalID, clientID: clientID, aud: clientID, scope: scope, name: pa.Member.Name,
		sid: sig.SessionID, email: pa.Member.Email, idp: sig.ConnectionID, amr: sig.AMR, access: pa}
}

// signIn is what a code and a refresh-token family remember of the sign-in
// behind them.
type signIn struct {
	SessionID    string   `json:"sid,omitempty"` // the session's Handle, never its id
	ConnectionID string   `json:"idp"`
	AMR          []string `json:"amr,omitempty"`
	// AuthTime is when the user authenticated (Unix seconds).
	AuthTime int64 `json:"auth_time"`
	// Workspace narrows the tokens (workspace=… at authorization).
	Workspace string `json:"ws,omitempty"`
	// EmailVerified is the user's flag when the grant was made (ID tokens
	// and userinfo state it with the email scope).
	EmailVerified bool `json:"ev,omitempty"`
}
