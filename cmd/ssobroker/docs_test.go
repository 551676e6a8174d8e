package main

import (
	"flag"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// Every environment variable the configuration reads is documented in
// docs/operations.md, so an operator never has to read config.go.
func TestOperationsDocNamesEveryVariable(t *testing.T) {
	var read []string
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bindConfig(fs, func(name string) string {
		read = append(read, name)
		return ""
	})
	if len(read) == 0 {
		t.Fatal("bindConfig read no variable; the test cannot see what it reads")
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(read)
	for _, name := range slices.Compact(read) {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/operations.md does not document %s (in backquotes, in the configuration table)", name)
		}
	}
}
