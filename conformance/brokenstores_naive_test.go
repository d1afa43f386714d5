package conformance

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// naiveRecord is a record of the naive stores below.
type naiveRecord struct {
	data []byte
	exp  time.Time
}

// naive is a map store that may alias slices, for the aliasing checks.
type naive struct {
	mu         sync.Mutex
	m          map[string]naiveRecord
	keepCaller bool // keep the slice passed to Save
	giveOwn    bool // return the kept slice from Load
	minAlias   int  // alias only records of at least this many bytes
}

func newNaive(keepCaller, giveOwn bool) *naive {
	return &naive{m: make(map[string]naiveRecord), keepCaller: keepCaller, giveOwn: giveOwn}
}

// newNaiveLarge is newNaive aliasing only records of 64 KiB or more, the
// way a store that avoids copying big values might.
func newNaiveLarge(keepCaller, giveOwn bool) *naive {
	s := newNaive(keepCaller, giveOwn)
	s.minAlias = 64 << 10
	return s
}

func (s *naive) Load(_ context.Context, key string) (core.Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[key]
	if !ok || !r.exp.After(time.Now()) {
		return core.Record{}, false, nil
	}
	data := r.data
	if !s.giveOwn || len(data) < s.minAlias {
		data = append([]byte(nil), data...)
	}
	return core.Record{Data: data, Expiry: r.exp}, true, nil
}

func (s *naive) Save(_ context.Context, key string, data []byte, exp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.keepCaller || len(data) < s.minAlias {
		data = append([]byte(nil), data...)
	}
	s.m[key] = naiveRecord{data, exp}
	return nil
}

func (s *naive) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// cow is a copy-on-write map store that publishes a new map without
// checking that nobody else did meanwhile: concurrent writes get lost.
type cow struct {
	p atomic.Pointer[map[string]naiveRecord]
}

func newCOW() *cow {
	s := &cow{}
	s.p.Store(&map[string]naiveRecord{})
	return s
}

func (s *cow) Load(_ context.Context, key string) (core.Record, bool, error) {
	r, ok := (*s.p.Load())[key]
	if !ok || !r.exp.After(time.Now()) {
		return core.Record{}, false, nil
	}
	return core.Record{Data: append([]byte(nil), r.data...), Expiry: r.exp}, true, nil
}

// update copies the current map, applies fn and publishes the copy.
func (s *cow) update(fn func(m map[string]naiveRecord)) {
	old := *s.p.Load()
	m := make(map[string]naiveRecord, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	fn(m)
	time.Sleep(100 * time.Microsecond) // the window another writer slips through
	s.p.Store(&m)
}

func (s *cow) Save(_ context.Context, key string, data []byte, exp time.Time) error {
	data = append([]byte(nil), data...)
	s.update(func(m map[string]naiveRecord) { m[key] = naiveRecord{data, exp} })
	return nil
}

func (s *cow) Delete(_ context.Context, key string) error {
	s.update(func(m map[string]naiveRecord) { delete(m, key) })
	return nil
}
