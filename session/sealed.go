package session

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealed values: state that an unauthenticated browser carries between two
// requests instead of the server storing it (docs/security.md, "Abuse
// resistance: sign-in state").
//
// Format, base64url without padding:
//
//	version (1 byte, 1) | nonce (24 bytes) | XChaCha20-Poly1305(expiry (8 bytes, Unix seconds, big endian) | plaintext)
//
// The associated data is the version byte, "ssobroker sealed\x00" and the
// purpose, so a value sealed for one purpose never opens as another
// (Keycloak CVE-2026-4282 mixed up kinds of single-use values).
// XChaCha20-Poly1305 takes 192-bit random nonces: anyone can make the
// server seal (every unauthenticated sign-in start does), and with random
// 96-bit nonces (AES-GCM) a collision, which reveals the authentication
// key, becomes likely after about 2^32 values under one key.

// SealKeySize is the length of a Sealer's key.
const SealKeySize = chacha20poly1305.KeySize

// MaxSealedLen is the longest sealed string Open reads.
const MaxSealedLen = 8192

const (
	sealVersion  = 1
	sealOverhead = 1 + chacha20poly1305.NonceSizeX + 8 + chacha20poly1305.Overhead
	// minSealedLen is the base64url length of a sealed empty plaintext.
	minSealedLen = (sealOverhead*8 + 5) / 6
)

// Errors of Sealer.Open. Neither says why a value did not open.
var (
	// ErrSealedInvalid: malformed, tampered with, sealed under another key
	// or for another purpose.
	ErrSealedInvalid = errors.New("session: sealed value not valid")
	// ErrSealedExpired: authentic, but past the expiry sealed in it.
	ErrSealedExpired = errors.New("session: sealed value expired")
)

// Sealer seals and opens short values with an expiry, for one deployment
// key. Replicas sharing the key open each other's values. It is safe for
// concurrent use. Sealing gives secrecy, integrity and expiry, not single
// use: a caller that must refuse a second use records the value's id (for
// instance with Store.Remember) once the user has proven who they are.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer with a SealKeySize-byte key, which should be
// used for nothing else (derive it, e.g. with HKDF, from the deployment's
// secret key).
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != SealKeySize {
		return nil, fmt.Errorf("session: sealing key must be %d bytes, got %d", SealKeySize, len(key))
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("session: sealing key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// NewRandomSealer returns a Sealer with a fresh random key: values it seals
// open only in this process.
func NewRandomSealer() *Sealer {
	key := make([]byte, SealKeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	s, _ := NewSealer(key)
	return s
}

func sealAD(purpose string) []byte {
	return append([]byte{sealVersion}, "ssobroker sealed\x00"+purpose...)
}

// Seal returns plaintext sealed for purpose (a non-empty constant naming
// what the value is), valid until expires.
func (s *Sealer) Seal(purpose string, plaintext []byte, expires time.Time) (string, error) {
	if purpose == "" {
		return "", errors.New("session: seal: empty purpose")
	}
	if sealOverhead+len(plaintext) > MaxSealedLen*6/8 {
		return "", fmt.Errorf("session: seal: value of %d bytes is too long", len(plaintext))
	}
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, sealOverhead+len(plaintext))
	out[0] = sealVersion
	nonce := out[1:]
	_, _ = rand.Read(nonce)
	msg := make([]byte, 8, 8+len(plaintext))
	binary.BigEndian.PutUint64(msg, uint64(expires.Unix()))
	msg = append(msg, plaintext...)
	out = s.aead.Seal(out, nonce, msg, sealAD(purpose))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open returns the plaintext of a value sealed for purpose. It fails with
// ErrSealedInvalid unless the value is authentic under this key and
// purpose, and with ErrSealedExpired when now is at or past its expiry.
func (s *Sealer) Open(purpose, sealed string, now time.Time) ([]byte, error) {
	if purpose == "" || len(sealed) > MaxSealedLen || len(sealed) < minSealedLen {
		return nil, ErrSealedInvalid
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sealed)
	if err != nil || len(raw) < sealOverhead || raw[0] != sealVersion {
		return nil, ErrSealedInvalid
	}
	nonce, box := raw[1:1+chacha20poly1305.NonceSizeX], raw[1+chacha20poly1305.NonceSizeX:]
	msg, err := s.aead.Open(box[:0], nonce, box, sealAD(purpose))
	if err != nil {
		return nil, ErrSealedInvalid
	}
	exp := int64(binary.BigEndian.Uint64(msg[:8]))
	if now.Unix() >= exp {
		return nil, ErrSealedExpired
	}
	return msg[8:], nil
}

// LooksSealed reports whether s has the shape of a sealed value (base64url
// characters, the length of at least an empty sealed plaintext, at most
// MaxSealedLen, the current version), without opening it: for checking a
// parameter that only travels through.
func LooksSealed(s string) bool {
	if len(s) < minSealedLen || len(s) > MaxSealedLen || !isB64URL(s) {
		return false
	}
	// The first character holds the top 6 bits of the version byte.
	head, err := base64.RawURLEncoding.DecodeString(s[:4])
	return err == nil && head[0] == sealVersion
}
