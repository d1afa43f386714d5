package keylock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestExclusion: 32 goroutines over 4 keys each add to a plain counter per
// key under the key's lock; go test -race and the totals catch two holders.
func TestExclusion(t *testing.T) {
	var tab Table[int]
	keys := []string{"a", "b", "c", "d"}
	counts := make([]int, len(keys))
	const workers, rounds = 32, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				i := (w + r) % len(keys)
				l, err := tab.Lock(context.Background(), keys[i])
				if err != nil {
					t.Error(err)
					return
				}
				counts[i]++
				l.Value++ // the holder's own, guarded by the lock
				tab.Unlock(keys[i], l)
			}
		})
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	if total != workers*rounds {
		t.Errorf("%d increments under the locks, want %d", total, workers*rounds)
	}
	if n := tab.entries(); n != 0 {
		t.Errorf("%d entries left once every caller unlocked, want 0", n)
	}
}

// TestOtherKeysDoNotWait holds one key and locks another key of the same
// map: it must not wait for the holder. A waiter for the held key gives
// up with its context's error, and leaves no entry behind.
func TestOtherKeysDoNotWait(t *testing.T) {
	var tab Table[struct{}]
	held := "held"
	other := ""
	for i := 0; other == ""; i++ {
		if k := fmt.Sprint("other", i); tab.shard(k) == tab.shard(held) {
			other = k
		}
	}
	l, err := tab.Lock(context.Background(), held)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lo, err := tab.Lock(ctx, other)
	if err != nil {
		t.Fatalf("Lock(%q) while %q (same map) is held = %v, want it at once", other, held, err)
	}
	tab.Unlock(other, lo)
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	if _, err := tab.Lock(short, held); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held key with a 20 ms deadline = %v, want context.DeadlineExceeded", err)
	}
	if !tab.InUse(held) || tab.InUse(other) {
		t.Errorf("InUse(held) = %v, InUse(other) = %v; want true, false", tab.InUse(held), tab.InUse(other))
	}
	tab.Unlock(held, l)
	if n := tab.entries(); n != 0 {
		t.Errorf("%d entries left, want 0", n)
	}
}

// TestValueStartsAtZero: a key's Value lives while someone holds or waits
// for the key, and starts at zero once the entry is new.
func TestValueStartsAtZero(t *testing.T) {
	var tab Table[uint64]
	ctx := context.Background()
	l, _ := tab.Lock(ctx, "k")
	l.Value = 7
	got := make(chan uint64, 1)
	go func() {
		l2, _ := tab.Lock(ctx, "k") // waits: the entry stays
		v := l2.Value
		tab.Unlock("k", l2) // before the send: the entry is gone when the test locks again
		got <- v
	}()
	for deadline := time.Now().Add(10 * time.Second); tab.refs("k") < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second Lock is not waiting after 10 s")
		}
	}
	tab.Unlock("k", l)
	select {
	case v := <-got:
		if v != 7 {
			t.Errorf("a waiter that took over found Value %d, want 7", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not get the lock within 10 s of its release")
	}
	l, _ = tab.Lock(ctx, "k")
	if l.Value != 0 {
		t.Errorf("a new entry has Value %d, want 0", l.Value)
	}
	tab.Unlock("k", l)
}

// entries counts the keys in the table.
func (t *Table[V]) entries() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// refs returns how many callers hold or wait for key.
func (t *Table[V]) refs(key string) int {
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if l := sh.m[key]; l != nil {
		return l.refs
	}
	return 0
}
