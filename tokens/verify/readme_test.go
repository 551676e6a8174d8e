package verify_test

import (
	"os"
	"strings"
	"testing"
)

// The README's example service is the package's compiled Example: the code
// between the Example's markers appears verbatim in README.md, so the README
// cannot show code that no longer compiles.
func TestREADMEShowsTheExample(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "\t// README example begins.\n", "\t// README example ends.\n"
	s := string(src)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("example_test.go lost its README markers")
	}
	body := s[i+len(begin) : j]
	if !strings.Contains(string(readme), body) {
		t.Fatalf("README.md (\"Verifying tokens in a service\") does not show Example's code; paste it:\n%s", body)
	}
}
