package memory

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestCloseStopsSweeper(t *testing.T) {
	s := New(Config{CleanupInterval: time.Millisecond})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
		})
	}
	wg.Wait()
	if s.sweeper.Running() {
		t.Fatal("the sweeper goroutine is still running after Close returned")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close() = %v", err)
	}
	// The store stays usable.
	key := "0000000000000000000000000000000000000000000000000000000000000000"
	if err := s.Save(context.Background(), key, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Save after Close = %v", err)
	}
}

func TestParseKey(t *testing.T) {
	const key = "00ff10a9b2c3d4e5f60718293a4b5c6d7e8f9fedcba98765432100112233aabb"
	k, ok := parseKey(key)
	if !ok {
		t.Fatal("parseKey rejected a valid key")
	}
	if got := k.String(); got != key {
		t.Fatalf("parseKey(%s).String() = %s", key, got)
	}
	for _, bad := range []string{"", key[:63], key + "0", "00FF" + key[4:], "0g" + key[2:]} {
		if _, ok := parseKey(bad); ok {
			t.Errorf("parseKey(%q) accepted an invalid key", bad)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := Config{MaxRecordSize: -5}.normalise()
	if c.CleanupInterval != DefaultCleanupInterval || c.MaxRecordSize != 0 {
		t.Fatalf("normalise() = %+v, want the default interval and no size limit", c)
	}
}
