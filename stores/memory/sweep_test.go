package memory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
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
	// parseKey accepts exactly the keys core.ValidKey accepts: every byte
	// value at every position of a valid key, and it decodes each one it
	// accepts as encoding/hex does.
	b := []byte(key)
	for i := range b {
		for c := range 256 {
			b[i] = byte(c)
			k, ok := parseKey(string(b))
			if want := core.ValidKey(string(b)); ok != want {
				t.Fatalf("parseKey(%q) ok = %v, core.ValidKey = %v", b, ok, want)
			}
			if ok && k.String() != string(b) {
				t.Fatalf("parseKey(%q) decodes to %s", b, k)
			}
		}
		b[i] = key[i]
	}
}

func TestDefaults(t *testing.T) {
	c := Config{MaxRecordSize: -5}.normalise()
	if c.CleanupInterval != DefaultCleanupInterval || c.MaxRecordSize != 0 {
		t.Fatalf("normalise() = %+v, want the default interval and no size limit", c)
	}
}

// liveHeap returns the live heap after garbage collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSweepReturnsMemory stores a burst of records that then end: after
// the sweep, the live heap must fall back most of the way to where it was
// before the burst (without the rebuild, an emptied table keeps its index,
// its first chunk and a spare chunk at their peak sizes). The records end
// by Delete, so that the test does not race their expiry on a slow
// machine; the sweep finds the tables emptied either way.
func TestSweepReturnsMemory(t *testing.T) {
	const n = 100_000
	ctx := context.Background()
	s := New(Config{CleanupInterval: -1})
	keep := time.Now().Add(time.Hour)
	for i := range 1000 { // a few long-lived records stay throughout
		if err := s.Save(ctx, shardKey(i), []byte("kept"), keep); err != nil {
			t.Fatal(err)
		}
	}
	before := liveHeap()
	data := make([]byte, 16)
	for i := 1000; i < 1000+n; i++ {
		if _, err := s.CompareAndSwap(ctx, shardKey(i), 0, data, keep); err != nil {
			t.Fatal(err)
		}
	}
	peak := liveHeap()
	for i := 1000; i < 1000+n; i++ {
		if err := s.Delete(ctx, shardKey(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	after := liveHeap()
	t.Logf("live heap: before %d kB, peak %d kB, after the sweep %d kB", before>>10, peak>>10, after>>10)
	if grown := peak - before; after > before+grown/5 {
		t.Errorf("after the sweep the heap keeps %d of the %d bytes the burst took, want at most a fifth", after-before, grown)
	}
	if s.Len() != 1000 {
		t.Errorf("Len() = %d after the sweep, want the 1000 long-lived records", s.Len())
	}
	for i := range 1000 {
		if rec, ok, err := s.Load(ctx, shardKey(i)); err != nil || !ok || string(rec.Data) != "kept" {
			t.Fatalf("Load(long-lived %d) = %q, %v, %v after the rebuild", i, rec.Data, ok, err)
		}
	}
}

// TestSweepKeepsRewrittenRecords revives expired records between the
// sweep's scan (which lists them) and its deletion: a record that is live
// again when its batch is deleted must stay.
func TestSweepKeepsRewrittenRecords(t *testing.T) {
	ctx := context.Background()
	s := New(Config{CleanupInterval: -1})
	const n = 4000
	soon := time.Now().Add(2 * time.Second) // 4000 saves within it, also under -race on a loaded machine
	for i := range n {
		if err := s.Save(ctx, shardKey(i), []byte("old"), soon); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != n {
		t.Fatalf("Len() = %d, want %d: storing took longer than the records' lifetime", s.Len(), n)
	}
	time.Sleep(time.Until(soon) + time.Millisecond)
	revived := make([]bool, n)
	afterScan = func() {
		afterScan = nil // once: the first shard's scan is done, the others not yet begun
		for i := 0; i < n; i += 2 {
			if _, err := s.CompareAndSwap(ctx, shardKey(i), 0, []byte("new"), time.Now().Add(time.Hour)); err != nil {
				t.Errorf("CompareAndSwap(expired record, version 0) = %v", err)
			}
			revived[i] = true
		}
	}
	t.Cleanup(func() { afterScan = nil })
	removed, err := s.DeleteExpired(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if removed != n/2 {
		t.Errorf("DeleteExpired = %d, want %d (the records not revived)", removed, n/2)
	}
	for i := range n {
		_, ok, err := s.Load(ctx, shardKey(i))
		if err != nil || ok != revived[i] {
			t.Fatalf("Load(record %d, revived %v) = found %v, %v after the sweep", i, revived[i], ok, err)
		}
	}
	if s.Len() != n/2 {
		t.Errorf("Len() = %d after the sweep, want the %d revived records", s.Len(), n/2)
	}
}

// shardKey returns a valid store key for i, spread over the shards.
func shardKey(i int) string {
	var k id
	k[0], k[1], k[2], k[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
	return k.String()
}

// BenchmarkParseKey decodes keys of random digits, as store keys are: a
// decoder that branches on each digit mispredicts about every other one.
func BenchmarkParseKey(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		keys[i] = hex.EncodeToString(sum[:])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := parseKey(keys[i%len(keys)]); !ok {
			b.Fatal("parseKey rejected a store key")
		}
		i++
	}
}
