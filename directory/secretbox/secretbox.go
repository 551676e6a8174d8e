// Package secretbox seals small secrets at rest — token signing keys, upstream
// IdP client secrets — with AES-256-GCM under the deployment's
// SSOBROKER_SECRET_KEY.
//
// A sealed value is
//
//	version (1 byte) ‖ nonce (12 bytes) ‖ ciphertext and GCM tag
//
// The version byte names the key and format that sealed it, so a later
// release can introduce a new key (rotation) while still opening values
// sealed under an old one. The associated data binds a ciphertext to the
// record it belongs to (a signing key's kid, a connection's id): a sealed
// value copied into another row does not open.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of the secret key: 32 bytes, for AES-256.
const KeySize = 32

// Version1 is the first and current format: AES-256-GCM with a random 96-bit nonce.
const Version1 byte = 1

const nonceSize = 12

// Errors returned by this package.
var (
	// ErrKeySize means the secret key is not exactly KeySize bytes.
	ErrKeySize = errors.New("secretbox: the secret key must be 32 bytes")
	// ErrOpen means a sealed value could not be opened: it was tampered
	// with, truncated, sealed under another key or for other associated data.
	// The cause is deliberately not told apart.
	ErrOpen = errors.New("secretbox: cannot open sealed value (wrong key, wrong associated data or tampered)")
	// ErrVersion means the value was sealed in a format this build does not know.
	ErrVersion = errors.New("secretbox: unknown sealed format version")
)

// Box seals and opens values under one secret key. It is safe for
// concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a KeySize-byte key; it fails with ErrKeySize for any
// other length. The key is not retained beyond the cipher's key schedule.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w (got %d)", ErrKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// ParseKey decodes SSOBROKER_SECRET_KEY: standard or URL-safe base64, with or
// without padding, of exactly KeySize bytes. It fails with ErrKeySize when
// the decoded key has another length, and with a decoding error otherwise.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("%w (decoded %d bytes)", ErrKeySize, len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("secretbox: the secret key is not valid base64")
}

// GenerateKey returns a new random key, base64-encoded (standard encoding,
// padded) as SSOBROKER_SECRET_KEY expects. The error is always nil:
// crypto/rand.Read cannot fail (docs/architecture.md, "Construction and
// failures"); it stays so that callers need not change.
func GenerateKey() (string, error) {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k), nil
}

// Seal encrypts plaintext and binds it to associatedData, which is not
// stored and must be given again to Open. The error is always nil:
// crypto/rand.Read cannot fail (docs/architecture.md, "Construction and
// failures"); it stays because sealers are used through interfaces whose
// other implementations may fail.
func (b *Box) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+b.aead.Overhead())
	out[0] = Version1
	_, _ = rand.Read(out[1 : 1+nonceSize])
	return b.aead.Seal(out, out[1:1+nonceSize], plaintext, associatedData), nil
}

// Open decrypts a value made by Seal with the same associatedData. It fails
// with ErrVersion for an unknown format and with ErrOpen when the value was
// altered, truncated, sealed under another key or for other associated data.
func (b *Box) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, ErrOpen
	}
	if sealed[0] != Version1 {
		return nil, fmt.Errorf("%w %d", ErrVersion, sealed[0])
	}
	if len(sealed) < 1+nonceSize+b.aead.Overhead() {
		return nil, ErrOpen
	}
	nonce, ct := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	pt, err := b.aead.Open(nil, nonce, ct, associatedData)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
