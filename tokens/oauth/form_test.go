package oauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestFormParsing(t *testing.T) {
	cases := []struct {
		name, body, auth string
		want             form
		status           int
	}{
		{name: "plain", body: "grant_type=client_credentials&client_id=sa_1&client_secret=ssb_x&scope=a+b&workspace=w&token=t",
			want: form{grantType: "client_credentials", clientID: "sa_1", clientSecret: "ssb_x", scope: "a b", workspace: "w", token: "t", hasPostSec: true}},
		{name: "percent escapes", body: "scope=a%20b%2Bc&grant_type=x%3Dy", want: form{scope: "a b+c", grantType: "x=y"}},
		{name: "empty values are omitted", body: "scope=&scope=x&&grant_type", want: form{scope: "x"}},
		{name: "unknown parameters are ignored", body: "foo=1&foo=2&grant_type=g", want: form{grantType: "g"}},
		{name: "repeated parameter", body: "scope=a&scope=b", status: 400},
		{name: "bad escape", body: "scope=%zz", status: 400},
		{name: "truncated escape", body: "scope=%4", status: 400},
		{name: "basic", auth: "Basic " + b64std("sa%5F1:se+cret%21"), want: form{basic: true, basicID: "sa_1", basicSecret: "se cret!", authHeader: true}},
		{name: "basic without colon", auth: "Basic " + b64std("nocolon"), status: 400},
		{name: "basic not base64", auth: "Basic !!!", status: 400},
		{name: "bearer", auth: "Bearer x", want: form{authHeader: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			got, err := parseForm(r, nil)
			if tc.status != 0 {
				var oe *Error
				if !errors.As(err, &oe) || oe.Status != tc.status {
					t.Fatalf("err = %v, want status %d", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.buf = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestOversizedBodyIsRefused(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("token="+strings.Repeat("a", maxFormBytes)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.ContentLength = -1 // as with chunked encoding
	_, err := parseForm(r, nil)
	var oe *Error
	if !errors.As(err, &oe) || oe.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("err = %v", err)
	}
}
