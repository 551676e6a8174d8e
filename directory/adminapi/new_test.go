package adminapi

import (
	"testing"
)

// newAPI is New for tests: a construction error fails the test.
func newAPI(t testing.TB, cfg Config) *API {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// noStore stands in for the directory in tests that never reach it (the
// route table, the error mapping): any call panics through the nil
// interface it embeds, which would show such a test reached the store.
type noStore struct{ Store }

func TestNewRefusesAMissingStore(t *testing.T) {
	if a, err := New(Config{}); err == nil || a != nil {
		t.Fatalf("New without a Store = %v, %v; want an error", a, err)
	}
}
