package saml_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ssobroker/ssobroker/idp"
	"github.com/ssobroker/ssobroker/idp/saml"
	"github.com/ssobroker/ssobroker/idp/saml/samltest"
	"github.com/ssobroker/ssobroker/internal/certtest"
)

const (
	brokerBase = "https://sso.example.test/sso/saml/conn_test"
	entityID   = brokerBase + "/metadata"
	acsURL     = brokerBase + "/acs"
	requestID  = "id-0123456789abcdef0123456789abcdef01234567"
)

// spKeyPair is an SP key and its self-signed certificate, as the admin API
// makes them.
type spKeyPair struct {
	key     *rsa.PrivateKey
	cert    *x509.Certificate
	certPEM string
	keyDER  []byte
}

func newSPKeyPair(t testing.TB) spKeyPair {
	t.Helper()
	key := certtest.RSAKey(t)
	der, cert := certtest.SelfSigned(t, key, x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)})
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return spKeyPair{key: key, cert: cert, certPEM: certtest.PEM(der), keyDER: keyDER}
}

// rig is one connection's SP facing a test IdP.
type rig struct {
	idp  *samltest.IdP
	sp   spKeyPair
	conn *saml.Connector
	// seen is the replay cache (FirstSeen).
	mu   sync.Mutex
	seen map[string]bool
}

type rigOption func(cfg map[string]any, mapping map[string]string)

func newRig(t testing.TB, opts ...rigOption) *rig {
	t.Helper()
	r := &rig{idp: samltest.NewIdP(t, "https://idp.example.test/saml"), sp: newSPKeyPair(t), seen: map[string]bool{}}
	r.conn = r.build(t, opts...)
	return r
}

func (r *rig) build(t testing.TB, opts ...rigOption) *saml.Connector {
	t.Helper()
	cfg := map[string]any{
		"metadata_xml":   r.idp.Metadata("https://idp.example.test/sso"),
		"sp_certificate": r.sp.certPEM,
		"sp_key_sealed":  []byte("sealed:" + string(r.sp.keyDER)),
	}
	mapping := map[string]string{}
	for _, o := range opts {
		o(cfg, mapping)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := saml.New(context.Background(), idp.FactoryInput{
		Config:      idp.ConnectionConfig{SAML: raw, AttributeMapping: mapping},
		CallbackURL: acsURL,
		EntityID:    entityID,
		OpenSecret: func(sealed []byte) ([]byte, error) {
			if !strings.HasPrefix(string(sealed), "sealed:") {
				return nil, errors.New("not sealed by us")
			}
			return sealed[len("sealed:"):], nil
		},
	})
	if err != nil {
		t.Fatalf("build connector: %v", err)
	}
	return c.(*saml.Connector)
}

// params is a valid response's parameters for this rig.
func (r *rig) params() samltest.Params {
	return samltest.Params{
		SPEntityID: entityID, ACSURL: acsURL, InResponseTo: requestID, NameID: "ada@corp.example",
		Attributes: map[string][]string{
			"email": {"ada@corp.example"}, "givenName": {"Ada"}, "sn": {"Lovelace"}, "groups": {"ml-admins", "ml"},
		},
	}
}

func (r *rig) expect() idp.SAMLExpect {
	return idp.SAMLExpect{RequestID: requestID, ACSURL: acsURL, FirstSeen: r.firstSeen}
}

func (r *rig) firstSeen(_ context.Context, issuer, id string, until time.Time) (bool, error) {
	if !until.After(time.Now()) {
		return false, errors.New("remembered until the past")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := issuer + "\x00" + id
	if r.seen[k] {
		return false, nil
	}
	r.seen[k] = true
	return true, nil
}

// post hands xml to the connector as the ACS would.
func (r *rig) post(xml []byte, expect idp.SAMLExpect) (idp.Identity, error) {
	return postForm(r.conn, samltest.Form(xml, "relay"), expect)
}

func postForm(c *saml.Connector, form url.Values, expect idp.SAMLExpect) (idp.Identity, error) {
	req := httptest.NewRequest(http.MethodPost, acsURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := req.ParseForm(); err != nil {
		return idp.Identity{}, err
	}
	return c.HandlePOST(context.Background(), req, expect)
}

func TestValidResponsesAreAccepted(t *testing.T) {
	r := newRig(t)
	for _, c := range []struct {
		name string
		o    samltest.Options
	}{
		{"response and assertion signed", samltest.Options{Sign: samltest.SignBoth}},
		{"assertion signed", samltest.Options{Sign: samltest.SignAssertion}},
		{"encrypted assertion, both signed", samltest.Options{Sign: samltest.SignBoth, EncryptTo: r.sp.cert}},
		{"encrypted assertion, assertion signed", samltest.Options{Sign: samltest.SignAssertion, EncryptTo: r.sp.cert}},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := r.post(r.idp.Response(t, r.params(), c.o), r.expect())
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if id.Issuer != r.idp.EntityID || id.Subject != "ada@corp.example" || id.Email != "ada@corp.example" ||
				id.Name != "Ada Lovelace" || strings.Join(id.Groups, ",") != "ml-admins,ml" || id.EmailVerified ||
				strings.Join(id.AMR, ",") != "saml" {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestAResponseSignedOnlyAtTheTopIsRefused(t *testing.T) {
	// The connection wants signed assertions (and its metadata says so): the
	// assertion itself must carry the signature (forms_test.go has the rest).
	r := newRig(t, wantAssertionsSigned(true))
	if _, err := r.post(r.idp.Response(t, r.params(), samltest.Options{Sign: samltest.SignResponse}), r.expect()); !errors.Is(err, idp.ErrInvalidResponse) {
		t.Fatalf("accepted or wrong error: %v", err)
	}
}

func TestHostileResponsesAreRefused(t *testing.T) {
	r := newRig(t)
	cases := samltest.Hostile()
	if len(cases) < 30 {
		t.Fatalf("the catalogue has only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			p := r.params()
			doc := c.Build(t, r.idp, p)
			id, err := r.post(doc, r.expect())
			if err == nil {
				t.Fatalf("accepted (%s): identity %+v", c.Why, id)
			}
			var up *idp.UpstreamError
			if !errors.Is(err, idp.ErrInvalidResponse) && !errors.As(err, &up) {
				t.Fatalf("refused with an error of the wrong kind: %v", err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// The hostile cases are only meaningful if the same response, untampered,
// is accepted: otherwise a case could pass by breaking something else.
func TestTheBaselinesOfTheHostileCasesAreAccepted(t *testing.T) {
	r := newRig(t)
	for _, sign := range []samltest.Sign{samltest.SignBoth, samltest.SignAssertion} {
		if _, err := r.post(r.idp.Response(t, r.params(), samltest.Options{Sign: sign}), r.expect()); err != nil {
			t.Fatalf("%v baseline refused: %v", sign, err)
		}
	}
}

func TestAReplayedAssertionIsRefused(t *testing.T) {
	r := newRig(t)
	doc := r.idp.Response(t, r.params(), samltest.Options{})
	if _, err := r.post(doc, r.expect()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.post(doc, r.expect()); !errors.Is(err, idp.ErrInvalidResponse) || !strings.Contains(err.Error(), "replay") {
		t.Fatalf("replay not refused: %v", err)
	}
	// The same assertion ID in a new response is the same assertion.
	p := r.params()
	p.AssertionID = "_fixed-assertion-id"
	if _, err := r.post(r.idp.Response(t, p, samltest.Options{}), r.expect()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.post(r.idp.Response(t, p, samltest.Options{}), r.expect()); err == nil {
		t.Fatal("a re-signed response with a used assertion ID was accepted")
	}
}

func TestAResponseToAnotherRequestIsRefused(t *testing.T) {
	r := newRig(t)
	exp := r.expect()
	exp.RequestID = "id-another-request"
	if _, err := r.post(r.idp.Response(t, r.params(), samltest.Options{}), exp); !errors.Is(err, idp.ErrInvalidResponse) {
		t.Fatalf("accepted: %v", err)
	}
}

func TestIdPInitiatedLogin(t *testing.T) {
	unsolicited := func(r *rig) samltest.Params {
		p := r.params()
		p.InResponseTo = ""
		return p
	}
	noRequest := func(r *rig) idp.SAMLExpect {
		e := r.expect()
		e.RequestID = ""
		return e
	}
	t.Run("off by default", func(t *testing.T) {
		r := newRig(t)
		if _, ok := r.conn.IdPInitiated(); ok {
			t.Fatal("IdP-initiated on by default")
		}
		if _, err := r.post(r.idp.Response(t, unsolicited(r), samltest.Options{}), noRequest(r)); !errors.Is(err, idp.ErrInvalidResponse) {
			t.Fatalf("unsolicited response accepted: %v", err)
		}
	})
	optIn := func(cfg map[string]any, _ map[string]string) {
		cfg["allow_idp_initiated"] = true
		cfg["idp_initiated_target"] = "/login/done"
	}
	t.Run("opted in", func(t *testing.T) {
		r := newRig(t, optIn)
		if target, ok := r.conn.IdPInitiated(); !ok || target != "/login/done" {
			t.Fatalf("IdPInitiated() = %q, %v", target, ok)
		}
		doc := r.idp.Response(t, unsolicited(r), samltest.Options{})
		if _, err := r.post(doc, noRequest(r)); err != nil {
			t.Fatalf("refused: %v", err)
		}
		if _, err := r.post(doc, noRequest(r)); err == nil {
			t.Fatal("an IdP-initiated assertion was accepted twice")
		}
		// A response that answers some request cannot arrive unsolicited.
		if _, err := r.post(r.idp.Response(t, r.params(), samltest.Options{}), noRequest(r)); !errors.Is(err, idp.ErrInvalidResponse) {
			t.Fatalf("a solicited response was accepted as IdP-initiated: %v", err)
		}
		// A solicited login on such a connection still checks InResponseTo.
		if _, err := r.post(r.idp.Response(t, unsolicited(r), samltest.Options{}), r.expect()); !errors.Is(err, idp.ErrInvalidResponse) {
			t.Fatalf("a response without InResponseTo was accepted for a pending request: %v", err)
		}
	})
}

func TestAttributeMapping(t *testing.T) {
	t.Run("a transient NameID identifies nobody", func(t *testing.T) {
		r := newRig(t)
		p := r.params()
		p.NameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
		p.NameID = "_transient123"
		if _, err := r.post(r.idp.Response(t, p, samltest.Options{}), r.expect()); !errors.Is(err, idp.ErrMissingClaim) {
			t.Fatalf("transient NameID used as subject: %v", err)
		}
	})
	t.Run("mapped subject, email, name, groups and email_verified", func(t *testing.T) {
		r := newRig(t, func(_ map[string]any, m map[string]string) {
			m["subject"], m["email"], m["name"], m["groups"], m["email_verified"] = "uid", "mail", "displayName", "roles", "verified"
		})
		p := r.params()
		p.NameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
		p.NameID = "_transient123"
		p.Attributes = map[string][]string{"uid": {"u-42"}, "mail": {"grace@corp.example"}, "displayName": {"Grace Hopper"},
			"roles": {"a", "b"}, "verified": {"true"}, "groups": {"ignored"}}
		id, err := r.post(r.idp.Response(t, p, samltest.Options{}), r.expect())
		if err != nil {
			t.Fatal(err)
		}
		if id.Subject != "u-42" || id.Email != "grace@corp.example" || id.Name != "Grace Hopper" ||
			strings.Join(id.Groups, ",") != "a,b" || !id.EmailVerified {
			t.Fatalf("identity %+v", id)
		}
	})
	t.Run("no email anywhere", func(t *testing.T) {
		r := newRig(t)
		p := r.params()
		p.NameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
		p.NameID = "opaque-42"
		p.Attributes = map[string][]string{"givenName": {"Ada"}}
		if _, err := r.post(r.idp.Response(t, p, samltest.Options{}), r.expect()); !errors.Is(err, idp.ErrMissingClaim) {
			t.Fatalf("accepted without an email: %v", err)
		}
	})
}

func TestMalformedInputIsRefusedPlainly(t *testing.T) {
	r := newRig(t)
	for name, form := range map[string]url.Values{
		"no SAMLResponse":    {"RelayState": {"x"}},
		"not base64":         {"SAMLResponse": {"%%%"}},
		"not XML":            {"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte("hello"))}},
		"artifact binding":   {"SAMLart": {"AAQAA"}},
		"empty response":     {"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`))}},
		"an AuthnRequest":    {"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x"/>`))}},
		"truncated response": {"SAMLResponse": {base64.StdEncoding.EncodeToString(r.idp.Response(t, r.params(), samltest.Options{})[:900])}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := postForm(r.conn, form, r.expect()); !errors.Is(err, idp.ErrInvalidResponse) {
				t.Fatalf("error %v, want ErrInvalidResponse", err)
			}
		})
	}
}

func TestSPMetadataIsSignedAndOffersOnlyThePOSTBinding(t *testing.T) {
	r := newRig(t)
	md, err := r.conn.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The signature checks with xmlsec1 against the SP certificate.
	if err := samltest.VerifyElement(t, md, r.sp.cert, "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"); err != nil {
		t.Fatalf("SP metadata signature: %v\n%s", err, md)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(md); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	if root.SelectAttrValue("entityID", "") != entityID {
		t.Fatalf("entityID %q", root.SelectAttrValue("entityID", ""))
	}
	sp := root.FindElement("./SPSSODescriptor")
	if sp == nil || sp.SelectAttrValue("AuthnRequestsSigned", "") != "true" {
		t.Fatalf("SPSSODescriptor: %s", md)
	}
	acs := sp.FindElements("./AssertionConsumerService")
	if len(acs) != 1 || acs[0].SelectAttrValue("Binding", "") != "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" || acs[0].SelectAttrValue("Location", "") != acsURL {
		t.Fatalf("ACS endpoints: %s", md)
	}
}

func TestAuthnRequestsAreSigned(t *testing.T) {
	t.Run("redirect binding: query signature", func(t *testing.T) {
		r := newRig(t)
		req, err := r.conn.AuthnRequest(context.Background(), "relay-Token_1", acsURL, "", idp.ForceReauthentication)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(req.URL)
		if err != nil || req.Form != nil || req.ID == "" {
			t.Fatalf("request %+v: %v", req, err)
		}
		raw := u.RawQuery
		i := strings.Index(raw, "&Signature=")
		if i < 0 || u.Query().Get("SigAlg") != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" || u.Query().Get("RelayState") != "relay-Token_1" {
			t.Fatalf("query %s", raw)
		}
		sig, err := base64.StdEncoding.DecodeString(u.Query().Get("Signature"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(raw[:i]))
		if err := rsa.VerifyPKCS1v15(&r.sp.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			t.Fatalf("query signature: %v", err)
		}
		xml := inflate(t, u.Query().Get("SAMLRequest"))
		if !strings.Contains(xml, `ForceAuthn="true"`) || !strings.Contains(xml, `ID="`+req.ID+`"`) || !strings.Contains(xml, entityID) {
			t.Fatalf("AuthnRequest %s", xml)
		}
	})
	t.Run("POST binding: enveloped signature", func(t *testing.T) {
		r := newRig(t, func(cfg map[string]any, _ map[string]string) { cfg["request_binding"] = "post" })
		req, err := r.conn.AuthnRequest(context.Background(), "relay", acsURL, "")
		if err != nil {
			t.Fatal(err)
		}
		if req.URL != "https://idp.example.test/sso" || req.Form.Get("RelayState") != "relay" {
			t.Fatalf("request %+v", req)
		}
		xml, err := base64.StdEncoding.DecodeString(req.Form.Get("SAMLRequest"))
		if err != nil {
			t.Fatal(err)
		}
		if err := samltest.VerifyElement(t, xml, r.sp.cert, "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest"); err != nil {
			t.Fatalf("AuthnRequest signature: %v\n%s", err, xml)
		}
	})
	t.Run("unsigned when the connection says so", func(t *testing.T) {
		r := newRig(t, func(cfg map[string]any, _ map[string]string) { cfg["sign_requests"] = false })
		req, err := r.conn.AuthnRequest(context.Background(), "relay", acsURL, "")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(req.URL, "Signature=") {
			t.Fatalf("signed: %s", req.URL)
		}
	})
}

func TestBrokenConfigurationsAreReportedPrecisely(t *testing.T) {
	r := newRig(t)
	expired := samltest.NewIdP(t, "https://old.example.test")
	md := expired.Metadata("https://old.example.test/sso")
	md = strings.Replace(md, expired.CertBase64(), base64.StdEncoding.EncodeToString(expiredCert(t)), 1)
	for name, c := range map[string]struct {
		opt  rigOption
		want string
	}{
		"expired IdP certificate": {func(cfg map[string]any, _ map[string]string) { cfg["metadata_xml"] = md }, "expired"},
		"DOCTYPE in the metadata": {func(cfg map[string]any, _ map[string]string) {
			cfg["metadata_xml"] = `<!DOCTYPE x [<!ENTITY e "e">]>` + r.idp.Metadata("https://idp.example.test/sso")[strings.Index(r.idp.Metadata("https://idp.example.test/sso"), "<md:"):]
		}, "DOCTYPE"},
		"no SP key":              {func(cfg map[string]any, _ map[string]string) { delete(cfg, "sp_key_sealed") }, "SP key pair"},
		"IdP-initiated, nowhere": {func(cfg map[string]any, _ map[string]string) { cfg["allow_idp_initiated"] = true }, "idp_initiated_target"},
		"two IdP descriptions":   {func(cfg map[string]any, _ map[string]string) { cfg["entity_id"] = "x" }, "exactly one"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := map[string]any{
				"metadata_xml":   r.idp.Metadata("https://idp.example.test/sso"),
				"sp_certificate": r.sp.certPEM, "sp_key_sealed": []byte("sealed:" + string(r.sp.keyDER)),
			}
			c.opt(cfg, nil)
			raw, _ := json.Marshal(cfg)
			_, err := saml.New(context.Background(), idp.FactoryInput{Config: idp.ConnectionConfig{SAML: raw}, CallbackURL: acsURL, EntityID: entityID,
				OpenSecret: func(s []byte) ([]byte, error) { return s[len("sealed:"):], nil }})
			if !errors.Is(err, idp.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrConfig mentioning %q", err, c.want)
			}
		})
	}
}

func expiredCert(t testing.TB) []byte {
	der, _ := certtest.SelfSigned(t, certtest.RSAKey(t), x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "old idp"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	return der
}

// inflate decodes an HTTP-Redirect SAMLRequest (base64 of raw DEFLATE).
func inflate(t testing.TB, v string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
