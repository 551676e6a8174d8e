package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// securityFloors are the lowest versions of security-critical modules we
// accept (docs/security.md, "Dependencies"): govulncheck needs a database this machine cannot
// reach, so the floors are written down and checked here.
var securityFloors = map[string]string{
	"github.com/russellhaering/goxmldsig": "v1.6.0", // signature bypass advisories below
	"github.com/crewjam/saml":             "v0.5.1",
	"github.com/lestrrat-go/jwx/v2":       "v2.0.21", // CVE-2024-28122 (JWE decompression)
	"github.com/go-jose/go-jose/v4":       "v4.0.5",  // CVE-2025-27144 (compact parsing DoS)
	"golang.org/x/crypto":                 "v0.35.0", // CVE-2025-22869 (ssh), CVE-2024-45337
	"golang.org/x/net":                    "v0.38.0", // CVE-2025-22872 (html tokenizer)
}

func TestSecurityCriticalModulesAreAboveTheirFloors(t *testing.T) {
	f, err := os.Open("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && strings.HasPrefix(fields[1], "v") {
			got[fields[0]] = fields[1]
		}
	}
	for mod, floor := range securityFloors {
		v, ok := got[mod]
		if !ok {
			t.Errorf("%s is not in go.mod; a floor is declared for it", mod)
			continue
		}
		if semverLess(v, floor) {
			t.Errorf("%s %s is below its security floor %s", mod, v, floor)
		}
	}
}

// semverLess compares vMAJOR.MINOR.PATCH, ignoring pre-release suffixes.
func semverLess(a, b string) bool {
	pa, pb := semverParts(a), semverParts(b)
	for i := range pa {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}

func semverParts(v string) [3]int {
	var out [3]int
	v, _, _ = strings.Cut(strings.TrimPrefix(v, "v"), "-")
	for i, p := range strings.SplitN(v, ".", 3) {
		out[i], _ = strconv.Atoi(p)
	}
	return out
}

func TestSemverLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{{"v1.5.9", "v1.6.0", true}, {"v1.6.0", "v1.6.0", false}, {"v1.10.0", "v1.9.9", false}, {"v0.0.0-2024-abc", "v0.1.0", true}} {
		if got := semverLess(c.a, c.b); got != c.less {
			t.Errorf("semverLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}
