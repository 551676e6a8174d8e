package secretbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"
)

func newBox(t *testing.T) (*Box, []byte) {
	t.Helper()
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b, key
}

func TestSealedValueOpensWithSameKeyAndAssociatedData(t *testing.T) {
	b, _ := newBox(t)
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("private jwk "), 500)} {
		sealed, err := b.Seal(pt, []byte("kid-1"))
		if err != nil {
			t.Fatal(err)
		}
		if sealed[0] != Version1 {
			t.Fatalf("version byte = %d, want %d", sealed[0], Version1)
		}
		if len(sealed) != 1+nonceSize+len(pt)+16 {
			t.Fatalf("sealed length %d for %d bytes of plaintext", len(sealed), len(pt))
		}
		got, err := b.Open(sealed, []byte("kid-1"))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip changed the plaintext")
		}
	}
}

func TestSealingTwiceUsesFreshNonces(t *testing.T) {
	b, _ := newBox(t)
	seen := map[string]bool{}
	for range 100 {
		s, err := b.Seal([]byte("same"), []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		n := string(s[1 : 1+nonceSize])
		if seen[n] {
			t.Fatal("nonce reused")
		}
		seen[n] = true
	}
}

func TestEveryTamperedByteIsRefused(t *testing.T) {
	b, _ := newBox(t)
	sealed, err := b.Seal([]byte("secret signing key"), []byte("kid"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		_, err := b.Open(bad, []byte("kid"))
		if i == 0 {
			if !errors.Is(err, ErrVersion) {
				t.Fatalf("flipped version byte: err = %v, want ErrVersion", err)
			}
			continue
		}
		if !errors.Is(err, ErrOpen) {
			t.Fatalf("flipped byte %d: err = %v, want ErrOpen", i, err)
		}
	}
	for n := range len(sealed) {
		if _, err := b.Open(sealed[:n], []byte("kid")); err == nil {
			t.Fatalf("truncated to %d bytes: opened", n)
		}
	}
}

func TestWrongAssociatedDataIsRefused(t *testing.T) {
	b, _ := newBox(t)
	sealed, err := b.Seal([]byte("secret"), []byte("kid-a"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range [][]byte{[]byte("kid-b"), nil, []byte("kid-a ")} {
		if _, err := b.Open(sealed, ad); !errors.Is(err, ErrOpen) {
			t.Fatalf("AD %q: err = %v, want ErrOpen", ad, err)
		}
	}
}

func TestWrongKeyIsRefused(t *testing.T) {
	a, _ := newBox(t)
	other, _ := newBox(t)
	sealed, err := a.Seal([]byte("secret"), []byte("kid"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(sealed, []byte("kid")); !errors.Is(err, ErrOpen) {
		t.Fatalf("err = %v, want ErrOpen", err)
	}
}

func TestKeyMustBe32Bytes(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); !errors.Is(err, ErrKeySize) {
			t.Fatalf("%d-byte key: err = %v, want ErrKeySize", n, err)
		}
	}
}

func TestParseKeyAcceptsBase64Variants(t *testing.T) {
	raw := make([]byte, KeySize)
	for i := range raw {
		raw[i] = byte(250 - i) // includes bytes that differ between std and URL alphabets
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		got, err := ParseKey(" " + enc.EncodeToString(raw) + "\n")
		if err != nil {
			t.Fatalf("%v", err)
		}
		if !bytes.Equal(got, raw) {
			t.Fatal("decoded key differs")
		}
	}
	if _, err := ParseKey(base64.StdEncoding.EncodeToString(raw[:16])); !errors.Is(err, ErrKeySize) {
		t.Fatalf("16-byte key: err = %v, want ErrKeySize", err)
	}
	if _, err := ParseKey("not base64 !!"); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestGeneratedKeyParses(t *testing.T) {
	s, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(k); err != nil {
		t.Fatal(err)
	}
}
