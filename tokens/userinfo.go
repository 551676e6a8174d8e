package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ssobroker/ssobroker/tokens/verify"
)

// UserInfo is the UserInfo response (OIDC Core §5.3.2): sub always; email
// and email_verified with the email scope; name with the profile scope;
// the organization and the user's workspace memberships in it as they are
// now (not as the token states them).
type UserInfo struct {
	Subject          string             `json:"sub"`
	Email            string             `json:"email,omitempty"`
	EmailVerified    *bool              `json:"email_verified,omitempty"`
	Name             string             `json:"name,omitempty"`
	Org              *IDTokenOrg        `json:"org,omitempty"`
	Workspaces       []verify.Workspace `json:"workspaces,omitempty"`
	DefaultWorkspace string             `json:"default_workspace,omitempty"`
}

// bearerError is a failure of a protected resource (RFC 6750 §3.1).
type bearerError struct {
	status      int
	code        string // empty: no error attribute (no token at all)
	description string
}

func (e *bearerError) Error() string { return e.code + ": " + e.description }

var (
	errNoBearer   = &bearerError{status: http.StatusUnauthorized}
	errBadBearer  = &bearerError{status: http.StatusUnauthorized, code: "invalid_token", description: "the access token is invalid, expired or revoked"}
	errNeedOpenID = &bearerError{status: http.StatusForbidden, code: "insufficient_scope", description: "the access token was not issued with the openid scope"}
)

// UserInfo returns the claims about the user of an access token, after
// checking it as VerifyAccessToken does (signature, issuer, typ, expiry,
// revocation) and that it was issued to a user with the openid scope, who
// is still a member of the token's organization. Failures are
// *bearerError values, or an *Error with status 503.
func (p *Provider) UserInfo(ctx context.Context, token string) (UserInfo, error) {
	c, err := p.issuer.VerifyAccessToken(ctx, token)
	if errors.Is(err, ErrInvalidAccessToken) {
		return UserInfo{}, errBadBearer
	}
	if err != nil {
		return UserInfo{}, err
	}
	if c.IsServiceAccount() || !hasScope(c.Scope, ScopeOpenID) {
		return UserInfo{}, errNeedOpenID
	}
	pa, err := p.issuer.store.PrincipalAccess(ctx, c.Org.ID, c.Subject)
	if notFound(err) {
		return UserInfo{}, errBadBearer
	}
	if err != nil {
		return UserInfo{}, storeErr(err)
	}
	info := UserInfo{Subject: c.Subject, Org: &IDTokenOrg{ID: pa.Org.ID, Name: pa.Org.Name, Role: string(pa.Member.Role)},
		DefaultWorkspace: pa.DefaultWorkspace.Name}
	for _, w := range pa.Workspaces {
		info.Workspaces = append(info.Workspaces, verify.Workspace{ID: w.WorkspaceID, Name: w.WorkspaceName, Role: w.Role,
			CanInvite: w.CanInvite, CanMakePublic: w.CanMakePublic})
	}
	if hasScope(c.Scope, ScopeProfile) {
		info.Name = pa.Member.Name
	}
	if hasScope(c.Scope, ScopeEmail) {
		u, err := p.dir.GetUser(ctx, c.Subject)
		if notFound(err) {
			return UserInfo{}, errBadBearer
		}
		if err != nil {
			return UserInfo{}, storeErr(err)
		}
		ev := u.EmailVerified
		info.Email, info.EmailVerified = u.Email, &ev
	}
	return info, nil
}

// UserInfoHandler serves GET and POST /oauth2/userinfo (OIDC Core §5.3).
// The access token comes in an Authorization: Bearer header or, with POST,
// as the access_token form parameter (RFC 6750 §2.1, §2.2), not both; in
// the query it is refused. Errors carry WWW-Authenticate (RFC 6750 §3):
// 401 without error for no token, 401 invalid_token, 403
// insufficient_scope, 400 invalid_request, and 503 when a store is down.
func (p *Provider) UserInfoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Access-Control-Allow-Origin"] = hdrAnyOrigin
		token, berr := bearerOf(w, r)
		var info UserInfo
		var err error
		if berr == nil {
			info, err = p.UserInfo(r.Context(), token)
		} else {
			err = berr
		}
		var be *bearerError
		switch {
		case errors.As(err, &be):
			challenge := `Bearer realm="ssobroker"`
			if be.code != "" {
				challenge += `, error="` + be.code + `", error_description="` + be.description + `"`
			}
			h.Set("WWW-Authenticate", challenge)
			noStore(h)
			w.WriteHeader(be.status)
			return
		case err != nil:
			oe := asOAuth(err)
			p.log.ErrorContext(r.Context(), "userinfo failed", "error", oe.Code, "cause", oe.Cause)
			if oe.Status == http.StatusServiceUnavailable {
				h.Set("Retry-After", "1")
			}
			writeJSON(w, oe.Status, []byte(`{"error":"`+oe.Code+`"}`))
			return
		}
		body, err := json.Marshal(info)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, []byte(`{"error":"server_error"}`))
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// bearerOf extracts the access token of a userinfo request.
func bearerOf(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.URL.Query().Has("access_token") {
		return "", &bearerError{status: http.StatusBadRequest, code: "invalid_request", description: "send the access token in the Authorization header, not the URL"}
	}
	var header string
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, _ := strings.Cut(a, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", errNoBearer
		}
		header = strings.TrimSpace(tok)
	}
	var body string
	if r.Method == http.MethodPost && hasMediaType(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			return "", &bearerError{status: http.StatusBadRequest, code: "invalid_request", description: "malformed request body"}
		}
		if v := r.PostForm["access_token"]; len(v) == 1 {
			body = v[0]
		} else if len(v) > 1 {
			return "", &bearerError{status: http.StatusBadRequest, code: "invalid_request", description: "access_token repeated"}
		}
	}
	switch {
	case header != "" && body != "":
		return "", &bearerError{status: http.StatusBadRequest, code: "invalid_request", description: "more than one access token sent"}
	case header != "":
		return header, nil
	case body != "":
		return body, nil
	}
	return "", errNoBearer
}
