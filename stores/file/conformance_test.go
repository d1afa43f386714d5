package file

import (
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
)

func TestConformance(t *testing.T) {
	conformance.TestStore(t, func(t *testing.T) core.Store {
		return newStore(t, Config{})
	})
}

func TestConformanceSync(t *testing.T) {
	conformance.TestStore(t, func(t *testing.T) core.Store {
		return newStore(t, Config{Sync: true, Prefix: "s_", Mode: 0o640})
	})
}
