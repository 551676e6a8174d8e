package adminapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// An org name that imitates another (issue 11: "Globеx" with a Cyrillic е)
// is refused with 422 on the name field and a sentence a person understands;
// a name in one script is kept, in NFC.
func TestConfusableOrgNamesAreRefused(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		for _, name := range []string{"Glob\u0435x", "Acme\u200dCorp", "Acme\u202eCorp", "Тесо"} {
			r := f.as(cAdmin, "PATCH", f.pathA(""), `{"name":"`+name+`"}`)
			wantStatus(t, r, 422)
			code, msg, field := r.errorCode(t)
			if code != "invalid" || field != "name" || !strings.HasPrefix(msg, "organization name ") {
				t.Fatalf("%q: %s", name, r.Body.String())
			}
		}
		for _, name := range []string{"Глобекс", "株式会社Acme"} {
			wantStatus(t, f.as(cAdmin, "PATCH", f.pathA(""), `{"name":"`+name+`"}`), 200)
		}
		r := f.as(cAdmin, "PATCH", f.pathA(""), `{"name":"Cafe\u0301 Acme"}`)
		wantStatus(t, r, 200)
		if got := r.json(t)["name"]; got != "Caf\u00e9 Acme" {
			t.Fatalf("name stored as %q, want NFC", got)
		}
	})
}

// fetchFailure stands in for the idp package's fetch error: Error has the
// network detail, PublicMessage only the class.
type fetchFailure struct{}

func (fetchFailure) Error() string {
	return `idp: identity provider unavailable: fetching IdP metadata: refused: the address is not allowed: Get "https://idp.acme.test/md": dial tcp 10.0.0.7:443: idp: upstream address not allowed: 10.0.0.7 is private (RFC 1918)`
}
func (fetchFailure) PublicMessage() string { return "refused: the address is not allowed" }

type failingFetcher struct{ err error }

func (f failingFetcher) FetchSAMLMetadata(context.Context, string) ([]byte, error) { return nil, f.err }

// A metadata URL on a refused address answers 422 naming the class of the
// failure, never the address or port it resolved to.
func TestMetadataFetchErrorsHideNetworkDetail(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		for _, tc := range []struct {
			err  error
			want string
		}{
			{fmt.Errorf("wrapped: %w", fetchFailure{}), "the metadata could not be fetched: refused: the address is not allowed"},
			{errors.New(`Get "https://idp.acme.test/md": dial tcp 10.0.0.7:443: connect: connection refused`), "the metadata could not be fetched: not reachable"},
		} {
			f.api.fetcher = failingFetcher{tc.err}
			body := fmt.Sprintf(`{"type":"saml","name":"saml-%d","saml":{"metadata_url":"https://idp.acme.test/md"}}`, f.next())
			r := f.as(cAdmin, "POST", f.pathA("/connections"), body)
			wantStatus(t, r, 422)
			_, msg, field := r.errorCode(t)
			if field != "saml.metadata_url" || msg != tc.want {
				t.Fatalf("field %q message %q, want %q", field, msg, tc.want)
			}
			for _, leak := range []string{"10.0.0.7", ":443", "dial", "tcp"} {
				if strings.Contains(r.Body.String(), leak) {
					t.Fatalf("the answer names %q: %s", leak, r.Body.String())
				}
			}
		}
	})
}
