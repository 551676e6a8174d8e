// Package certtest makes keys and self-signed X.509 certificates for tests:
// IdP signing certificates, SP key pairs, TLS certificates for loopback
// servers. It imports nothing of ours, so any package's tests may use it.
package certtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// ECDSAKey returns a new P-256 key. It fails the test on error.
func ECDSAKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// RSAKey returns a new 2048-bit RSA key. It fails the test on error.
func RSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// SelfSigned signs tmpl with key for itself and returns the certificate as
// DER and parsed. A nil SerialNumber becomes the current time in
// nanoseconds. It fails the test on error.
func SelfSigned(t testing.TB, key crypto.Signer, tmpl x509.Certificate) ([]byte, *x509.Certificate) {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return der, cert
}

// PEM encodes a DER certificate as a PEM "CERTIFICATE" block.
func PEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
