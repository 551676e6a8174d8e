package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ssobroker/ssobroker/tokens"
)

// UserInfoHandler serves GET and POST /oauth2/userinfo (OIDC Core §5.3;
// see tokens.Provider.UserInfo). The access token comes in an
// Authorization: Bearer header or, with POST, as the access_token form
// parameter (RFC 6750 §2.1, §2.2), not both; in the query it is refused.
// Errors carry WWW-Authenticate (RFC 6750 §3): 401 without error for no
// token, 401 invalid_token, 403 insufficient_scope, 400 invalid_request,
// and 503 when a store is down.
func (s *Server) UserInfoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Access-Control-Allow-Origin"] = hdrAnyOrigin
		token, berr := bearerOf(w, r)
		var info tokens.UserInfo
		var err error
		if berr == nil {
			info, err = s.provider.UserInfo(r.Context(), token)
		} else {
			err = berr
		}
		var be *tokens.BearerError
		switch {
		case errors.As(err, &be):
			challenge := `Bearer realm="ssobroker"`
			if be.Code != "" {
				challenge += `, error="` + be.Code + `", error_description="` + be.Description + `"`
			}
			h.Set("WWW-Authenticate", challenge)
			noStore(h)
			w.WriteHeader(bearerStatus(be))
			return
		case err != nil:
			oe := asOAuth(err)
			s.provider.Logger().ErrorContext(r.Context(), "userinfo failed", "error", oe.Code, "cause", oe.Cause)
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

// bearerStatus is the HTTP status of a protected resource's error (RFC
// 6750 §3.1).
func bearerStatus(e *tokens.BearerError) int {
	switch e.Code {
	case "insufficient_scope":
		return http.StatusForbidden
	case "invalid_request":
		return http.StatusBadRequest
	}
	return http.StatusUnauthorized
}

func badBearerRequest(desc string) *tokens.BearerError {
	return &tokens.BearerError{Code: "invalid_request", Description: desc}
}

// bearerOf extracts the access token of a userinfo request.
func bearerOf(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.URL.Query().Has("access_token") {
		return "", badBearerRequest("send the access token in the Authorization header, not the URL")
	}
	var header string
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, _ := strings.Cut(a, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", tokens.ErrNoBearer
		}
		header = strings.TrimSpace(tok)
	}
	var body string
	if r.Method == http.MethodPost && hasMediaType(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			return "", badBearerRequest("malformed request body")
		}
		if v := r.PostForm["access_token"]; len(v) == 1 {
			body = v[0]
		} else if len(v) > 1 {
			return "", badBearerRequest("access_token repeated")
		}
	}
	switch {
	case header != "" && body != "":
		return "", badBearerRequest("more than one access token sent")
	case header != "":
		return header, nil
	case body != "":
		return body, nil
	}
	return "", tokens.ErrNoBearer
}
