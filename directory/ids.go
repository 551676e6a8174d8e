package directory

import (
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// encodeBase62 encodes b in base 62, left-padded to the length every input of
// len(b) bytes can need, so encodings of one size have one length.
func encodeBase62(b []byte) string {
	width := (len(b)*8*1000 + 5953) / 5954 // ceil(bits / log2(62)), log2(62) ≈ 5.954
	n := new(big.Int).SetBytes(b)
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return string(out)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: docs/architecture.md, "Construction and failures"
	return b
}

// newID returns an opaque id such as "org_3xY…" (128 random bits).
func newID(prefix string) string { return prefix + "_" + encodeBase62(randomBytes(16)) }

// API keys are "ssb_" followed by 32 random bytes in base 62.
const (
	apiKeyPrefix    = "ssb_"
	apiKeyBodyLen   = 43 // encodeBase62 of 32 bytes
	apiKeyShownLen  = len(apiKeyPrefix) + 8
	apiKeySecretLen = len(apiKeyPrefix) + apiKeyBodyLen
)

func newAPIKeySecret() string { return apiKeyPrefix + encodeBase62(randomBytes(32)) }

// WellFormedAPIKey reports whether s has the shape of an API key, so that
// malformed input is refused before any lookup.
func WellFormedAPIKey(s string) bool {
	if len(s) != apiKeySecretLen || !strings.HasPrefix(s, apiKeyPrefix) {
		return false
	}
	for i := len(apiKeyPrefix); i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// HashSecret returns the SHA-256 of a high-entropy secret (API key, client
// secret). Such secrets need no slow password hash: guessing 256 random bits
// is infeasible, and a fast hash keeps the token endpoint fast.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

var workspaceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidateWorkspaceName checks a workspace name against the contract:
// ^[a-z0-9][a-z0-9-]{0,62}$, and not the reserved "default".
func ValidateWorkspaceName(name string) error {
	if !workspaceNameRE.MatchString(name) {
		return invalid("name", "workspace name %q must be 1-63 characters of lowercase letters, digits and hyphens, starting with a letter or digit", name)
	}
	if name == "default" {
		return invalid("name", `workspace name "default" is reserved: it means the caller's default workspace`)
	}
	return nil
}

func validateOrgName(name string) error {
	if strings.TrimSpace(name) != name || name == "" {
		return invalid("name", "organization name must be non-empty without leading or trailing spaces")
	}
	if utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) {
		return invalid("name", "organization name must be valid text of at most 100 characters")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return invalid("name", "organization name must not contain control characters")
		}
	}
	if strings.HasPrefix(name, "org_") {
		return invalid("name", `organization name must not start with "org_" (ids do)`)
	}
	return checkOrgNameText(name)
}

// normalizeEmail validates an address and returns it with a lowercased key.
func normalizeEmail(email string) (string, string, error) {
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email, "@") || len(email) > 254 {
		return "", "", invalid("email", "%q is not a valid email address", email)
	}
	return email, strings.ToLower(email), nil
}

// slugify turns an org name into a workspace name candidate.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 57 { // room for a numeric suffix
		s = strings.TrimRight(s[:57], "-")
	}
	if s == "" || s == "default" {
		s = "workspace"
	}
	return s
}
