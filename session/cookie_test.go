package session_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/session"
)

func TestCookieAttributes(t *testing.T) {
	for _, c := range []struct {
		name   string
		secure bool
		maxAge time.Duration
		want   []string
		reject []string
	}{
		{"https issuer gets Secure", true, time.Hour, []string{"sessionToken=ID", "Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=3600"}, nil},
		{"http issuer gets no Secure", false, 0, []string{"sessionToken=ID", "Path=/", "HttpOnly", "SameSite=Lax"}, []string{"Secure", "Max-Age", "Expires"}},
		{"partial seconds round up", false, 1500 * time.Millisecond, []string{"Max-Age=2"}, nil},
		{"negative max age deletes", true, -1, []string{"sessionToken=;", "Max-Age=0", "HttpOnly", "Secure"}, []string{"ID"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := session.Cookie(session.CookieName, "ID", c.secure, c.maxAge).String()
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("cookie %q lacks %q", got, w)
				}
			}
			for _, r := range c.reject {
				if strings.Contains(got, r) {
					t.Errorf("cookie %q has %q", got, r)
				}
			}
		})
	}
}

func TestFromRequestIsLenient(t *testing.T) {
	const id = "AbC-_0123456789abcdefghijklmnopqrstuvwxyzAB"
	for _, c := range []struct {
		name    string
		headers []string
		want    string
	}{
		{"plain", []string{"sessionToken=" + id}, id},
		{"among others", []string{"a=1; sessionToken=" + id + "; b=2"}, id},
		{"Opik forwards the RFC 2965 form", []string{"$Version=1;sessionToken=" + id}, id},
		{"RFC 2965 with attributes and spaces", []string{`$Version="1"; sessionToken="` + id + `"; $Path="/"`}, id},
		{"comma separated", []string{"$Version=1, sessionToken=" + id}, id},
		{"second header", []string{"a=1", "sessionToken=" + id}, id},
		{"first non-empty wins", []string{"sessionToken=; sessionToken=" + id}, id},
		{"missing", []string{"other=" + id}, ""},
		{"prefix of another name", []string{"xsessionToken=" + id}, ""},
		{"value with a space", []string{`sessionToken="a b"`}, ""},
		{"no cookie header", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/opik/auth-session", nil)
			for _, h := range c.headers {
				r.Header.Add("Cookie", h)
			}
			got, ok := session.FromRequest(r, session.CookieName)
			if got != c.want || ok != (c.want != "") {
				t.Fatalf("got %q, %v; want %q", got, ok, c.want)
			}
		})
	}
}

func TestCookieRoundTripsThroughFromRequest(t *testing.T) {
	rec := httptest.NewRecorder()
	http.SetCookie(rec, session.Cookie(session.CookieName, "abc_DEF-123", true, time.Minute))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(c)
	}
	if got, ok := session.FromRequest(r, session.CookieName); !ok || got != "abc_DEF-123" {
		t.Fatalf("got %q, %v", got, ok)
	}
}

func TestSessionPrintsNoID(t *testing.T) {
	s := session.Session{ID: "SECRET-COOKIE-VALUE", Handle: "h", UserID: "usr_1", Data: map[string]string{"k": "v"}}
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("login", "session", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v %#v %s", s, s, s), fmt.Sprintf("%v", &s), buf.String()} {
		if strings.Contains(out, "SECRET") {
			t.Fatalf("printed a session id: %s", out)
		}
		if !strings.Contains(out, "usr_1") {
			t.Fatalf("printed nothing useful: %s", out)
		}
	}
}
