package saml_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
)

// wantAssertionsSigned sets the connection's want_assertions_signed.
func wantAssertionsSigned(want bool) rigOption {
	return func(cfg map[string]any, _ map[string]string) { cfg["want_assertions_signed"] = want }
}

// The signature forms SAML allows (profiles §4.1.3.5: the assertion signed,
// or the response containing it), in both modes of want_assertions_signed.
func TestSignatureForms(t *testing.T) {
	for _, want := range []bool{false, true} {
		r := newRig(t, wantAssertionsSigned(want))
		for _, c := range []struct {
			name string
			o    samltest.Options
			// accepted when the connection does not want signed assertions
			// (all are accepted when it does, except the response-only forms)
			responseOnly bool
		}{
			{"response and assertion signed", samltest.Options{Sign: samltest.SignBoth}, false},
			{"assertion signed", samltest.Options{Sign: samltest.SignAssertion}, false},
			{"response signed, assertion unsigned", samltest.Options{Sign: samltest.SignResponse}, true},
			{"encrypted assertion, both signed", samltest.Options{Sign: samltest.SignBoth, EncryptTo: r.sp.cert}, false},
			{"encrypted assertion, assertion signed", samltest.Options{Sign: samltest.SignAssertion, EncryptTo: r.sp.cert}, false},
			{"encrypted unsigned assertion, response signed", samltest.Options{Sign: samltest.SignResponse, EncryptTo: r.sp.cert}, true},
		} {
			t.Run(fmt.Sprintf("want_assertions_signed=%v/%s", want, c.name), func(t *testing.T) {
				id, err := r.post(r.idp.Response(t, r.params(), c.o), r.expect())
				if want && c.responseOnly {
					// (an encrypted assertion is seen into by the library, which says "signature element not present")
					if !errors.Is(err, idp.ErrInvalidResponse) || (c.o.EncryptTo == nil && !strings.Contains(err.Error(), "wants signed assertions")) {
						t.Fatalf("a response-only signature was accepted, or refused for another reason: %v", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if id.Issuer != r.idp.EntityID || id.Subject != "ada@corp.example" || id.Email != "ada@corp.example" ||
					id.Name != "Ada Lovelace" || strings.Join(id.Groups, ",") != "ml-admins,ml" {
					t.Fatalf("identity %+v", id)
				}
			})
		}
	}
}

// Every hostile case, of the catalogue and of its response-signed variants,
// is refused whether or not the connection wants signed assertions, and the
// untampered baselines are accepted (else a case could pass by breaking
// something else).
func TestHostileResponsesAreRefusedInBothModes(t *testing.T) {
	cases := append(samltest.Hostile(), samltest.HostileResponseSigned()...)
	for _, want := range []bool{false, true} {
		r := newRig(t, wantAssertionsSigned(want))
		baselines := []samltest.Sign{samltest.SignBoth, samltest.SignAssertion}
		if !want {
			baselines = append(baselines, samltest.SignResponse)
		}
		for _, sign := range baselines {
			if _, err := r.post(r.idp.Response(t, r.params(), samltest.Options{Sign: sign}), r.expect()); err != nil {
				t.Fatalf("want_assertions_signed=%v: %v baseline refused: %v", want, sign, err)
			}
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("want_assertions_signed=%v/%s", want, c.Name), func(t *testing.T) {
				id, err := r.post(c.Build(t, r.idp, r.params()), r.expect())
				if err == nil {
					t.Fatalf("accepted (%s): identity %+v", c.Why, id)
				}
				var up *idp.UpstreamError
				if !errors.Is(err, idp.ErrInvalidResponse) && !errors.As(err, &up) {
					t.Fatalf("refused with an error of the wrong kind: %v", err)
				}
				if c.Evil != "" && (id.Subject == samltest.EvilNameID || id.Email == samltest.EvilNameID) {
					t.Fatalf("the evil identity came out: %+v", id)
				}
			})
		}
	}
}

// In the response-signed form the identity comes from the element
// goxmldsig verified: what the signature does not cover (here a comment
// beside the assertion, which exclusive canonicalization drops) is not read,
// and the response still verifies.
func TestAResponseSignedFormIsReadFromTheSignedElement(t *testing.T) {
	r := newRig(t)
	doc := r.idp.Response(t, r.params(), samltest.Options{Sign: samltest.SignResponse})
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	a := d.Root().SelectElement("Assertion")
	d.Root().InsertChildAt(a.Index(), etree.NewComment(" not signed "))
	doc, _ = d.WriteToBytes()
	id, err := r.post(doc, r.expect())
	if err != nil || id.Subject != "ada@corp.example" {
		t.Fatalf("identity %+v, err %v", id, err)
	}
}

func TestSPMetadataSaysWantAssertionsSignedOnlyWhenWanted(t *testing.T) {
	for _, want := range []bool{false, true} {
		r := newRig(t, wantAssertionsSigned(want))
		md, err := r.conn.Metadata(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		d := etree.NewDocument()
		if err := d.ReadFromBytes(md); err != nil {
			t.Fatal(err)
		}
		sp := d.Root().SelectElement("SPSSODescriptor")
		got := sp.SelectAttrValue("WantAssertionsSigned", "absent")
		if (want && got != "true") || (!want && got != "absent") {
			t.Fatalf("want_assertions_signed=%v: WantAssertionsSigned=%q", want, got)
		}
	}
}
