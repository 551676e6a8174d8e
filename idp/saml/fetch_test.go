package saml_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/saml"
)

// FetchMetadata's failures carry an *idp.FetchError whose PublicMessage (what
// the admin API shows an org admin) names the class, never the address.
func TestFetchMetadataFailuresAreClassified(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		name   string
		client *http.Client
		want   string
	}{
		{"a refused address", idp.NewUpstreamClient(false), "refused: the address is not allowed"},
		{"a 404", idp.NewUpstreamClient(true), "answered 404 Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := saml.FetchMetadata(context.Background(), tc.client, srv.URL+"/metadata")
			var fe *idp.FetchError
			if !errors.Is(err, idp.ErrUpstreamUnavailable) || !errors.As(err, &fe) {
				t.Fatalf("err %v", err)
			}
			if got := fe.PublicMessage(); got != tc.want || strings.Contains(got, host) {
				t.Fatalf("PublicMessage %q, want %q", got, tc.want)
			}
		})
	}
}
