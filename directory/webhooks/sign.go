package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SecretPrefix starts every signing secret, as the Standard Webhooks
// libraries expect ("whsec_" + base64 of the key bytes).
const SecretPrefix = "whsec_"

// secretBytes is the key length: 32 random bytes (the scheme asks for 24 to 64).
const secretBytes = 32

// NewSecret returns a fresh signing secret "whsec_<base64>".
func NewSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // never fails: docs/architecture.md, "Construction and failures"
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ErrSecret means a stored secret is not "whsec_" + base64.
var ErrSecret = errors.New("webhooks: malformed signing secret")

// secretKey decodes a secret into the HMAC key.
func secretKey(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(k) == 0 {
		return nil, ErrSecret
	}
	return k, nil
}

// Sign returns the webhook-signature header value for a message: "v1," and
// the base64 HMAC-SHA256, under the secret's key, of "{id}.{timestamp}.{body}".
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	k, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}
