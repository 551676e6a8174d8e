package session_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/session"
)

func newSealer(t *testing.T) *session.Sealer {
	t.Helper()
	key := make([]byte, session.SealKeySize)
	_, _ = rand.Read(key)
	s, err := session.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealedValues(t *testing.T) {
	s := newSealer(t)
	now := time.Unix(1_800_000_000, 0)
	plain := []byte(`{"c":"cli_x","r":"https://app.example/cb"}`)
	v, err := s.Seal("pending authorization", plain, now.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !session.LooksSealed(v) {
		t.Fatalf("LooksSealed(%q) = false", v)
	}
	if bytes.Contains([]byte(v), []byte("cli_x")) {
		t.Fatal("the plaintext shows in the sealed value")
	}

	t.Run("opens for its purpose before its expiry", func(t *testing.T) {
		got, err := s.Open("pending authorization", v, now.Add(10*time.Minute-time.Second))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	t.Run("two seals of one value differ", func(t *testing.T) {
		w, _ := s.Seal("pending authorization", plain, now.Add(10*time.Minute))
		if w == v {
			t.Fatal("same sealed string twice: the nonce is not random")
		}
	})
	t.Run("expired at and after its expiry", func(t *testing.T) {
		for _, at := range []time.Time{now.Add(10 * time.Minute), now.Add(time.Hour)} {
			if _, err := s.Open("pending authorization", v, at); !errors.Is(err, session.ErrSealedExpired) {
				t.Fatalf("Open at %v: %v, want ErrSealedExpired", at, err)
			}
		}
	})
	t.Run("another purpose does not open it", func(t *testing.T) {
		for _, p := range []string{"login state", "pending authorizatio", "pending authorization\x00", ""} {
			if _, err := s.Open(p, v, now); !errors.Is(err, session.ErrSealedInvalid) {
				t.Fatalf("purpose %q: %v, want ErrSealedInvalid", p, err)
			}
		}
	})
	t.Run("another key does not open it", func(t *testing.T) {
		if _, err := newSealer(t).Open("pending authorization", v, now); !errors.Is(err, session.ErrSealedInvalid) {
			t.Fatalf("other key: %v", err)
		}
	})
	t.Run("any change to any byte is refused", func(t *testing.T) {
		raw, _ := base64.RawURLEncoding.DecodeString(v)
		for i := range raw {
			for _, bit := range []byte{0x01, 0x80} {
				c := bytes.Clone(raw)
				c[i] ^= bit
				if _, err := s.Open("pending authorization", base64.RawURLEncoding.EncodeToString(c), now); err == nil {
					t.Fatalf("byte %d bit %#x flipped: opened", i, bit)
				}
			}
		}
		for _, bad := range []string{"", v[:len(v)-1], v + "A", v[:20], strings.Repeat("A", session.MaxSealedLen+1), v[:10] + "." + v[11:], v + "=="} {
			if _, err := s.Open("pending authorization", bad, now); !errors.Is(err, session.ErrSealedInvalid) {
				t.Fatalf("malformed %.30q…: %v", bad, err)
			}
		}
	})
	t.Run("an expiry cannot be moved: it is inside the sealed part", func(t *testing.T) {
		short, _ := s.Seal("p", []byte("x"), now.Add(time.Second))
		long, _ := s.Seal("p", []byte("x"), now.Add(time.Hour))
		rs, _ := base64.RawURLEncoding.DecodeString(short)
		rl, _ := base64.RawURLEncoding.DecodeString(long)
		if len(rs) != len(rl) {
			t.Fatal("lengths differ")
		}
		// Graft the long one's ciphertext onto the short one's nonce.
		graft := append(bytes.Clone(rs[:25]), rl[25:]...)
		if _, err := s.Open("p", base64.RawURLEncoding.EncodeToString(graft), now.Add(time.Minute)); !errors.Is(err, session.ErrSealedInvalid) {
			t.Fatalf("grafted: %v", err)
		}
	})
	t.Run("keys and purposes are checked", func(t *testing.T) {
		for _, n := range []int{0, 16, 31, 33} {
			if _, err := session.NewSealer(make([]byte, n)); err == nil {
				t.Fatalf("a %d-byte key was accepted", n)
			}
		}
		if _, err := s.Seal("", plain, now.Add(time.Minute)); err == nil {
			t.Fatal("an empty purpose was accepted")
		}
		if _, err := s.Seal("p", make([]byte, session.MaxSealedLen), now.Add(time.Minute)); err == nil {
			t.Fatal("a value longer than MaxSealedLen sealed was accepted")
		}
	})
	t.Run("LooksSealed", func(t *testing.T) {
		e, _ := s.Seal("p", nil, now.Add(time.Minute))
		if !session.LooksSealed(e) {
			t.Fatalf("empty plaintext %q", e)
		}
		for _, bad := range []string{"", "abc", strings.Repeat("a", 65), strings.Repeat("A", 200), e[:len(e)-1], e + "!", "B" + e[1:]} {
			if session.LooksSealed(bad) {
				t.Fatalf("LooksSealed(%.40q) = true", bad)
			}
		}
	})
	t.Run("a random sealer opens only its own values", func(t *testing.T) {
		a, b := session.NewRandomSealer(), session.NewRandomSealer()
		x, _ := a.Seal("p", []byte("v"), now.Add(time.Minute))
		if got, err := a.Open("p", x, now); err != nil || string(got) != "v" {
			t.Fatalf("own: %q %v", got, err)
		}
		if _, err := b.Open("p", x, now); err == nil {
			t.Fatal("another random sealer opened it")
		}
	})
}
