package tokens

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// TestAppendES256IsRFC6979 pins the nonce choice docs/security.md states:
// the same key and input give the same signature (RFC 6979), and different
// inputs different ones.
func TestAppendES256IsRFC6979(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a, err := appendES256(nil, k, []byte("a.b"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := appendES256(nil, k, []byte("a.b"))
	c, _ := appendES256(nil, k, []byte("a.c"))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatalf("same input: %q and %q; other input: %q", a, b, c)
	}
}

func TestRawSignatureRefusesMalformedDER(t *testing.T) {
	der := func(build func(*cryptobyte.Builder)) []byte {
		var b cryptobyte.Builder
		build(&b)
		out, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	seq := func(ints ...*big.Int) []byte {
		return der(func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, i := range ints {
					b.AddASN1BigInt(i)
				}
			})
		})
	}
	one, big33 := big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 256)
	var sig [64]byte
	if !rawSignature(seq(one, big.NewInt(2)), &sig) || sig[31] != 1 || sig[63] != 2 || sig[0] != 0 {
		t.Fatalf("r=1, s=2: %x", sig)
	}
	for name, in := range map[string][]byte{
		"empty":          nil,
		"one integer":    seq(one),
		"three integers": seq(one, one, one),
		"r of 33 bytes":  seq(big33, one),
		"negative s":     seq(one, big.NewInt(-5)),
		"trailing byte":  append(seq(one, one), 0),
		"not a sequence": der(func(b *cryptobyte.Builder) { b.AddASN1BigInt(one) }),
	} {
		if rawSignature(in, &sig) {
			t.Errorf("%s: accepted", name)
		}
	}
}
