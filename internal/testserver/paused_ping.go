package testserver

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// CheckPausedPing checks Manager.Check, a readiness probe, on s: nil
// while the server runs, an error wrapping context.DeadlineExceeded
// within about PausedStoreTimeout while pause holds the server (the probe
// must not hang), and nil again after resume. pause registers resume as a
// cleanup of t, as CheckPausedRequest's does.
func CheckPausedPing(t *testing.T, s core.Store, pause, resume func()) {
	t.Helper()
	if _, ok := s.(core.Pinger); !ok {
		t.Fatalf("%T does not implement core.Pinger", s)
	}
	m, err := core.New(core.Config{Store: s, StoreTimeout: PausedStoreTimeout, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(context.Background()); err != nil {
		t.Fatalf("Check with the server running = %v, want nil", err)
	}
	pause()
	start := time.Now()
	err = Within(t, pausedHangLimit, "Check with the store's server paused", func() error {
		return m.Check(context.Background())
	})
	took := time.Since(start)
	resume()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Check with the server paused = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if took > 5*PausedStoreTimeout {
		t.Errorf("Check with the server paused took %v, want about StoreTimeout (%v)", took, PausedStoreTimeout)
	}
	// A pool may need a moment to replace the connection the pause broke.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := m.Check(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Check after the server resumed = %v, want nil", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
