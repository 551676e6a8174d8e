package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ssobroker/ssobroker/e2e/peers"
)

// buildDir holds the ssobroker binary built for this test run.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ssobroker-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// brokerBinary builds cmd/ssobroker once per test run (go build, the same
// binary operators run) and returns its path.
func brokerBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		gocmd, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("the go command is not on PATH: %w", err)
			return
		}
		root := filepath.Dir(peers.Dir(t))
		out := filepath.Join(buildDir, "ssobroker")
		cmd := exec.Command(gocmd, "build", "-o", out, "./cmd/ssobroker")
		cmd.Dir = root
		start := time.Now()
		if b, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/ssobroker: %v\n%s", err, b)
			return
		}
		t.Logf("built ssobroker in %s", time.Since(start).Round(time.Millisecond))
		build.path = out
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}
