package memory_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// newStore returns a store closed at the end of the test.
func newStore(t testing.TB, cfg memory.Config) *memory.Store {
	s := memory.New(cfg)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testKey returns the n-th deterministic store key.
func testKey(n int) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(n)))
	return hex.EncodeToString(sum[:])
}

func TestConformance(t *testing.T) {
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, memory.Config{})
	}, conformance.StoreOptions{Parallel: true})
}

func TestConformanceWithLimit(t *testing.T) {
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, memory.Config{MaxRecordSize: 1000, CleanupInterval: -1})
	}, conformance.StoreOptions{MaxRecordSize: 1000, Parallel: true})
}

func TestInvalidKeyError(t *testing.T) {
	s := newStore(t, memory.Config{})
	ctx := t.Context()
	bad := "../../etc/passwd"
	if _, _, err := s.Load(ctx, bad); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("Load(path) error = %v, want ErrInvalidKey", err)
	}
	if err := s.Save(ctx, bad, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("Save(path) error = %v, want ErrInvalidKey", err)
	}
	if err := s.Delete(ctx, bad); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("Delete(path) error = %v, want ErrInvalidKey", err)
	}
	if _, err := s.CompareAndSwap(ctx, bad, 0, nil, time.Now().Add(time.Hour)); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("CompareAndSwap(path) error = %v, want ErrInvalidKey", err)
	}
	if err := s.Touch(ctx, bad, time.Now().Add(time.Hour)); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("Touch(path) error = %v, want ErrInvalidKey", err)
	}
	if n := s.Len(); n != 0 {
		t.Errorf("Len() = %d after invalid calls, want 0", n)
	}
}

func TestErrorsHoldNoKey(t *testing.T) {
	s := newStore(t, memory.Config{MaxRecordSize: 1})
	key := testKey(1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	errs := []error{
		s.Save(t.Context(), key, []byte("too large"), time.Now().Add(time.Hour)),
		s.Save(ctx, key, nil, time.Now().Add(time.Hour)),
		s.Save(t.Context(), key[:63]+"G", nil, time.Now().Add(time.Hour)),
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("want an error")
		}
		if msg := err.Error(); len(msg) > 0 && (strings.Contains(msg, key[:16]) || strings.Contains(msg, key[48:])) {
			t.Errorf("error %q contains key material", msg)
		}
	}
}

func TestTooLarge(t *testing.T) {
	s := newStore(t, memory.Config{MaxRecordSize: 4})
	ctx := t.Context()
	key := testKey(1)
	if err := s.Save(ctx, key, []byte("four"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Save(4 bytes) = %v, want nil", err)
	}
	err := s.Save(ctx, key, []byte("fives"), time.Now().Add(time.Hour))
	if !errors.Is(err, core.ErrTooLarge) {
		t.Fatalf("Save(5 bytes) = %v, want ErrTooLarge", err)
	}
	_, err = s.CompareAndSwap(ctx, key, 0, []byte("fives"), time.Now().Add(time.Hour))
	if !errors.Is(err, core.ErrTooLarge) {
		t.Fatalf("CompareAndSwap(5 bytes) = %v, want ErrTooLarge", err)
	}
	rec, found, err := s.Load(ctx, key)
	if err != nil || !found || string(rec.Data) != "four" {
		t.Fatalf("Load = %q, %t, %v; want \"four\", true, nil", rec.Data, found, err)
	}
}

func TestVersionsIncrease(t *testing.T) {
	s := newStore(t, memory.Config{})
	ctx := t.Context()
	var last uint64
	for i := range 5 {
		if err := s.Save(ctx, testKey(i%2), []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		rec, _, err := s.Load(ctx, testKey(i%2))
		if err != nil {
			t.Fatal(err)
		}
		if rec.Version <= last {
			t.Fatalf("write %d got version %d, want more than %d", i, rec.Version, last)
		}
		last = rec.Version
	}
}

func TestTouchKeepsVersion(t *testing.T) {
	s := newStore(t, memory.Config{})
	ctx := t.Context()
	key := testKey(1)
	if err := s.Save(ctx, key, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	before, _, _ := s.Load(ctx, key)
	if err := s.Touch(ctx, key, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	after, _, _ := s.Load(ctx, key)
	if after.Version != before.Version {
		t.Errorf("version after Touch = %d, want unchanged %d", after.Version, before.Version)
	}
	if _, err := s.CompareAndSwap(ctx, key, before.Version, []byte("y"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("CompareAndSwap with the version loaded before Touch = %v, want nil", err)
	}
}

func TestFarExpiry(t *testing.T) {
	s := newStore(t, memory.Config{})
	ctx := t.Context()
	key := testKey(1)
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Save(ctx, key, []byte("x"), far); err != nil {
		t.Fatal(err)
	}
	rec, found, err := s.Load(ctx, key)
	if err != nil || !found {
		t.Fatalf("Load = %t, %v; want found", found, err)
	}
	if rec.Expiry.After(far) || rec.Expiry.Before(time.Now().AddDate(200, 0, 0)) {
		t.Errorf("Expiry = %v, want at most %v and centuries away", rec.Expiry, far)
	}
}

func TestSweeper(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the sweeper")
	}
	s := newStore(t, memory.Config{CleanupInterval: 10 * time.Millisecond})
	ctx := t.Context()
	if err := s.Save(ctx, testKey(1), []byte("short"), time.Now().Add(30*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, testKey(2), []byte("long"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Len() = %d five seconds later, want 1: the sweeper did not remove the expired record", s.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, found, _ := s.Load(ctx, testKey(2)); !found {
		t.Error("the sweeper removed a live record")
	}
}

func TestSweeperDisabled(t *testing.T) {
	s := newStore(t, memory.Config{CleanupInterval: -1})
	ctx := t.Context()
	// Long enough to be stored on a loaded machine (Save stores nothing
	// already expired), then waited out.
	exp := time.Now().Add(50 * time.Millisecond)
	if err := s.Save(ctx, testKey(1), []byte("x"), exp); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(exp) + 5*time.Millisecond)
	if n := s.Len(); n != 1 {
		t.Fatalf("Len() = %d with the sweeper disabled, want the expired record kept", n)
	}
	if _, found, _ := s.Load(ctx, testKey(1)); found {
		t.Fatal("Load found an expired record")
	}
	if n, err := s.DeleteExpired(ctx); n != 1 || err != nil {
		t.Fatalf("DeleteExpired() = %d, %v; want 1, nil", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v on a store without sweeper", err)
	}
}
