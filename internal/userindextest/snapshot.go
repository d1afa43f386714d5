package userindextest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// CheckSnapshotUnderRenew renews one filed session over and over (each
// time to a new key from newKey, retiring the old one) while UserKeys is
// asked again and again: every listing must include the session, under
// its old or its new key, as the UserIndexer contract's snapshot rule
// requires.
func CheckSnapshotUnderRenew(t *testing.T, s core.UserIndexer, newKey func() string) {
	t.Helper()
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	key := newKey()
	v, err := s.CompareAndSwapUser(ctx, key, 0, nil, exp, "ivy", exp)
	if err != nil {
		t.Fatal(err)
	}
	var (
		stop      atomic.Bool
		wg        sync.WaitGroup
		listings  atomic.Int64
		renewals  atomic.Int64
		emptyOnce sync.Once
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stop.Store(true)
		for range 300 {
			next := newKey()
			nv, err := s.CompareAndSwapUser(ctx, next, 0, nil, exp, "ivy", exp)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := s.CompareAndSwap(ctx, key, v, nil, time.Now().Add(-time.Second)); err != nil {
				t.Error(err)
				return
			}
			key, v = next, nv
			renewals.Add(1)
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				keys, err := s.UserKeys(ctx, "ivy")
				if err != nil {
					t.Error(err)
					return
				}
				listings.Add(1)
				if len(keys) == 0 {
					emptyOnce.Do(func() {
						t.Errorf("UserKeys(ivy) during renewals = no key, want the old or the new one (listing %d)", listings.Load())
					})
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d renewals, %d listings", renewals.Load(), listings.Load())
}
