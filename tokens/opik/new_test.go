package opik_test

import (
	"testing"

	"github.com/ssobroker/ssobroker/tokens/opik"
)

func TestNewRefusesAMissingDirectory(t *testing.T) {
	if s, err := opik.New(opik.Config{}); err == nil || s != nil {
		t.Fatalf("New without a Directory = %v, %v; want an error", s, err)
	}
}
