package directory

import (
	"bytes"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// decodeBase62 is encodeBase62's inverse, for the tests.
func decodeBase62(s string) []byte {
	n := new(big.Int)
	for _, c := range []byte(s) {
		n.Mul(n, big.NewInt(62))
		n.Add(n, big.NewInt(int64(strings.IndexByte(base62, c))))
	}
	return n.Bytes()
}

func TestBase62EncodingsOfOneSizeHaveOneLengthAndRoundTrip(t *testing.T) {
	for _, c := range []struct{ bytes, width int }{{16, 22}, {32, 43}} {
		for _, in := range [][]byte{
			make([]byte, c.bytes),
			bytes.Repeat([]byte{0xff}, c.bytes),
			append([]byte{0x01}, make([]byte, c.bytes-1)...),
			randomBytes(c.bytes),
			randomBytes(c.bytes),
		} {
			out := encodeBase62(in)
			if len(out) != c.width {
				t.Fatalf("%d bytes %x encode to %d characters %q, want %d", c.bytes, in, len(out), out, c.width)
			}
			if strings.Trim(out, base62) != "" {
				t.Fatalf("%q has characters outside base 62", out)
			}
			if got := decodeBase62(out); !bytes.Equal(got, bytes.TrimLeft(in, "\x00")) {
				t.Fatalf("%x → %q → %x", in, out, got)
			}
		}
	}
}

func TestIDsArePrefixedAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newID("org")
		if !strings.HasPrefix(id, "org_") || len(id) != 4+22 || seen[id] {
			t.Fatalf("id %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

func TestWellFormedAPIKey(t *testing.T) {
	good := newAPIKeySecret()
	if len(good) != 47 || !WellFormedAPIKey(good) {
		t.Fatalf("a fresh key %q (%d characters) is not well formed", good, len(good))
	}
	for _, bad := range []string{"", "ssb_", good[:46], good + "0", "SSB_" + good[4:], "ssb-" + good[4:],
		good[:10] + "+" + good[11:], good[:10] + "é"[:1] + good[11:], good[:46] + " ", "\x00" + good[1:]} {
		if WellFormedAPIKey(bad) {
			t.Errorf("%q is well formed", bad)
		}
	}
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"Acme Corp":                    "acme-corp",
		"Acme  corp!":                  "acme-corp",
		"  --Acme--  ":                 "acme",
		"ACME-corp":                    "acme-corp",
		"Ünïcödé Labs":                 "n-c-d-labs",
		"日本":                           "workspace",
		"!!!":                          "workspace",
		"Default":                      "workspace",
		"R2-D2 & C-3PO":                "r2-d2-c-3po",
		strings.Repeat("a", 80):        strings.Repeat("a", 57),
		strings.Repeat("a", 56) + " b": strings.Repeat("a", 56),
	} {
		got := slugify(in)
		if got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
		if err := ValidateWorkspaceName(got + "-9999"); err != nil {
			t.Errorf("slugify(%q) with a suffix is not a valid workspace name: %v", in, err)
		}
	}
}

func TestValidateWorkspaceName(t *testing.T) {
	for _, ok := range []string{"a", "0", "research", "a-b-c", "team-", strings.Repeat("x", 63)} {
		if err := ValidateWorkspaceName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "A", "aB", "a_b", "a.b", "a b", "default", strings.Repeat("x", 64), "café"} {
		err := ValidateWorkspaceName(bad)
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != "name" {
			t.Errorf("%q: %v, want an invalid name", bad, err)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	email, key, err := normalizeEmail("Ada.Lovelace@Example.COM")
	if err != nil || email != "Ada.Lovelace@Example.COM" || key != "ada.lovelace@example.com" {
		t.Fatalf("= %q %q %v", email, key, err)
	}
	for _, bad := range []string{"", "ada", "ada@", "@example.com", "Ada <ada@example.com>", " ada@example.com", strings.Repeat("a", 250) + "@x.io"} {
		if _, _, err := normalizeEmail(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLikePatternMatchesLiterally(t *testing.T) {
	for in, want := range map[string]string{
		"abc":  `%abc%`,
		"ABC":  `%abc%`,
		"a%b":  `%a\%b%`,
		"a_b":  `%a\_b%`,
		`a\b`:  `%a\\b%`,
		`%_\\`: `%\%\_\\\\%`,
		"":     `%%`,
	} {
		if got := likePattern(in); got != want {
			t.Errorf("likePattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidateRedirectURI(t *testing.T) {
	for _, ok := range []string{"https://app.example.com/cb", "https://app.example.com:8443/cb?x=1", "http://localhost/cb",
		"http://localhost:3000/cb", "http://127.0.0.1:8085/cb", "http://[::1]:9000/cb"} {
		if err := ValidateRedirectURI(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/cb", "app.example.com/cb", "http://app.example.com/cb", "https://app.example.com/cb#x",
		"https://u:p@app.example.com/cb", "ftp://app.example.com/cb", "http://localhost.example.com/cb", "http://127.0.0.2.example/cb",
		"custom-scheme:/cb", "https:///cb"} {
		if err := ValidateRedirectURI(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q accepted", bad)
		}
	}
}
