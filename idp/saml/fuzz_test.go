package saml_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
)

// FuzzACS feeds arbitrary bytes to the ACS input path as a SAMLResponse:
// it must never panic, and every refusal must be one the service can turn
// into a page (ErrInvalidResponse, ErrMissingClaim or an IdP status).
//
//	go test -run '^$' -fuzz FuzzACS -fuzztime 60s ./idp/saml/
func FuzzACS(f *testing.F) {
	r := newRig(f)
	p := r.params()
	f.Add(r.idp.Response(f, p, samltest.Options{}))
	f.Add(r.idp.Response(f, p, samltest.Options{Sign: samltest.SignAssertion, EncryptTo: r.sp.cert}))
	for i, c := range samltest.Hostile() {
		if i%4 == 0 { // a sample: each costs xmlsec1 runs
			f.Add(c.Build(f, r.idp, p))
		}
	}
	f.Add([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"><saml:Subject/></saml:Assertion></samlp:Response>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		form := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(doc)}, "RelayState": {"relay"}}
		id, err := postForm(r.conn, form, r.expect())
		if err == nil {
			if id.Subject == "" || id.Email == "" {
				t.Fatalf("accepted an identity without subject or email: %+v", id)
			}
			return
		}
		var up *idp.UpstreamError
		if !errors.Is(err, idp.ErrInvalidResponse) && !errors.Is(err, idp.ErrMissingClaim) && !errors.As(err, &up) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}

// response4K is a signed response of about 4 KB (a realistic attribute set
// with a few dozen groups).
func response4K(b *testing.B, r *rig, sign samltest.Sign) []byte {
	p := r.params()
	var groups []string
	for i := 0; len(groups) < 200; i++ {
		groups = append(groups, "group-"+strings.Repeat("x", i%7)+string(rune('a'+i%26)))
		p.Attributes["groups"] = groups
		p.AssertionID = ""
		if n := len(r.idp.Response(b, p, samltest.Options{Sign: samltest.SignNone})); n >= 3300 {
			break
		}
	}
	doc := r.idp.Response(b, p, samltest.Options{Sign: sign})
	b.Logf("response: %d bytes, %d groups, %v", len(doc), len(groups), sign)
	return doc
}

// BenchmarkACS is the ACS processing of one signed ~4 KB response by the
// connector (parsing, our checks, the library's checks, signature
// verification, attribute mapping; the replay cache is a no-op here),
// beside BenchmarkRawRSA2048Verify, its ceiling.
//
//	go test -run '^$' -bench 'ACS|RawRSA' -benchmem -cpu 1 ./idp/saml/
func BenchmarkACS(b *testing.B) {
	for _, sign := range []samltest.Sign{samltest.SignAssertion, samltest.SignBoth} {
		b.Run(sign.String(), func(b *testing.B) {
			r := newRig(b)
			doc := response4K(b, r, sign)
			form := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(doc)}}
			exp := r.expect()
			exp.FirstSeen = func(context.Context, string, string, time.Time) (bool, error) { return true, nil }
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := postForm(r.conn, form, exp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawRSA2048Verify is one RSA-2048 PKCS #1 v1.5 SHA-256
// verification with crypto/rsa: the floor of any signed response's cost.
func BenchmarkRawRSA2048Verify(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256([]byte("<ds:SignedInfo>…</ds:SignedInfo>"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
