package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ChromiumBinary is where Debian's chromium package puts the browser (a
// launcher script that runs /usr/lib/chromium/chromium).
const ChromiumBinary = "/usr/bin/chromium"

const chromiumHint = "run the tests with ./.ci/test, which installs it"

// RequireChromium fails t — never skips — unless Debian's Chromium runs and
// the npm module playwright-core, which drives it, is installed in Dir
// (with node 20+). Browser tests prove what a Go cookie jar cannot
// (SameSite, Content-Security-Policy, scripts): without the browser they
// would prove nothing. It returns the node binary.
func RequireChromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(ChromiumBinary); err != nil {
		t.Fatalf("chromium is not installed (%s missing; Debian package chromium): the browser tests run it headless under npm playwright-core; %s", ChromiumBinary, chromiumHint)
	}
	out, err := exec.Command(ChromiumBinary, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Chromium") {
		t.Fatalf("chromium (%s) does not run: %v: %s; %s", ChromiumBinary, err, strings.TrimSpace(string(out)), chromiumHint)
	}
	if _, err := os.Stat(filepath.Join(Dir(t), "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("npm module playwright-core is missing in %s/node_modules (it drives chromium); %s", Dir(t), chromiumHint)
	}
	return RequireNode(t, "playwright-core")
}
