package directory_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/directorytest"
)

// TestUpstreamDocuments proves, on both engines, the last good upstream
// document a connection keeps (SAML metadata of a metadata URL): one per
// connection, replaced by the next, found only under the URL it came from,
// and gone with its connection.
func TestUpstreamDocuments(t *testing.T) {
	for name, open := range directorytest.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testUpstreamDocuments(t, open(t))
		})
	}
}

func testUpstreamDocuments(t *testing.T, s *directory.SQLStore) {
	o, _ := newOrg(t, s)
	conn := must[directory.Connection](t)(s.CreateConnection(bg, actorSystem, directory.Connection{
		OrgID: o.ID, Type: directory.ConnectionSAML, Name: "IdP " + tok()}))
	const u = "https://idp.example/metadata"
	if _, err := s.GetUpstreamDocument(bg, conn.ID, u); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("before any save: %v, want ErrNotFound", err)
	}
	first := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	noErr(t, s.SaveUpstreamDocument(bg, directory.UpstreamDocument{ConnectionID: conn.ID, URL: u, Document: []byte("<md:EntityDescriptor>1</md:EntityDescriptor>"), FetchedAt: first}))
	d := must[directory.UpstreamDocument](t)(s.GetUpstreamDocument(bg, conn.ID, u))
	if string(d.Document) != "<md:EntityDescriptor>1</md:EntityDescriptor>" || !d.FetchedAt.Equal(first) || d.URL != u {
		t.Fatalf("stored %+v", d)
	}
	// The next good document replaces it.
	second := first.Add(time.Hour)
	noErr(t, s.SaveUpstreamDocument(bg, directory.UpstreamDocument{ConnectionID: conn.ID, URL: u, Document: []byte("<two/>"), FetchedAt: second}))
	d = must[directory.UpstreamDocument](t)(s.GetUpstreamDocument(bg, conn.ID, u))
	if string(d.Document) != "<two/>" || !d.FetchedAt.Equal(second) {
		t.Fatalf("after a second save %+v", d)
	}
	// Another URL's document is never the answer.
	if _, err := s.GetUpstreamDocument(bg, conn.ID, u+"?other"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("another URL: %v, want ErrNotFound", err)
	}
	// Bad input is refused and changes nothing.
	for _, bad := range []directory.UpstreamDocument{
		{ConnectionID: conn.ID, URL: u},
		{ConnectionID: conn.ID, Document: []byte("x")},
		{ConnectionID: conn.ID, URL: u, Document: []byte(strings.Repeat("x", 1<<20+1))},
	} {
		if err := s.SaveUpstreamDocument(bg, bad); !errors.Is(err, directory.ErrInvalid) {
			t.Fatalf("bad document (url %q, %d bytes): %v, want ErrInvalid", bad.URL, len(bad.Document), err)
		}
	}
	if d := must[directory.UpstreamDocument](t)(s.GetUpstreamDocument(bg, conn.ID, u)); string(d.Document) != "<two/>" {
		t.Fatalf("a refused save changed the document: %q", d.Document)
	}
	// A connection that is gone keeps nothing, and takes its document along.
	noErr(t, s.SaveUpstreamDocument(bg, directory.UpstreamDocument{ConnectionID: "conn_gone", URL: u, Document: []byte("<x/>")}))
	if _, err := s.GetUpstreamDocument(bg, "conn_gone", u); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("a document for no connection was kept: %v", err)
	}
	noErr(t, s.DeleteConnection(bg, actorSystem, o.ID, conn.ID))
	if _, err := s.GetUpstreamDocument(bg, conn.ID, u); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("the document outlived its connection: %v", err)
	}
}
