package core_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestWriteInPlace: a request that sets and deletes values of a stored
// session without reading the rest stores every other value as it was,
// with or without the client address bound to it; the session reads the
// values it wrote after its commit (from the record written, kept
// encoded), and a change after the header left is saved too.
func TestWriteInPlace(t *testing.T) {
	for _, bind := range []bool{false, true} {
		h := newHarness(t, core.Config{BindClientIP: bind})
		tok := lazySeed(t, h)
		s, hdr := h.begin(tok, "192.0.2.1:1234")
		s.Set("a-str", "bob")
		s.Delete("j-str")
		s.Set("k-new", 9)
		s.Delete("missing")
		if err := h.m.Commit(s, hdr); err != nil {
			t.Fatalf("Commit = %v", err)
		}
		if v, _ := s.Get("a-str"); v != "bob" {
			t.Errorf("bind %v: after the commit, Get(a-str) = %v, want bob", bind, v)
		}
		if v, ok := s.Get("j-str"); ok {
			t.Errorf("bind %v: after the commit, Get(j-str) = %v, want none", bind, v)
		}
		if v, _ := core.Value[int](s, "b-int"); v != 4711 {
			t.Errorf("bind %v: after the commit, b-int = %v, want 4711", bind, v)
		}
		s.Set("late", true) // after the header: saved by the late commit
		if err := h.m.Commit(s, nil); err != nil {
			t.Fatalf("late Commit = %v", err)
		}
		h.m.Release(s)
		h.request(t, tok, func(s *core.Session) {
			want := lazyTestValues()
			delete(want, "j-str")
			want["a-str"], want["k-new"], want["late"] = "bob", 9, true
			got := map[string]any{}
			for _, k := range s.Keys() {
				got[k], _ = s.Get(k)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("bind %v: session holds %#v, want %#v", bind, got, want)
			}
		})
		if bind {
			// The bound address was written with the values: another
			// address gets no session.
			s, hdr := h.begin(tok, "198.51.100.7:1234")
			if !s.IsNew() {
				t.Error("a request from another address got the session bound to 192.0.2.1")
			}
			h.commit(t, s, tok, hdr)
		}
	}
}

// TestWriteInPlaceConflict: requests that change one stored session at
// once, each without reading it first, lose none of each other's
// changes. The ones that lose the race to another write rebase on the
// record it wrote, also when it filed the session under a user.
func TestWriteInPlaceConflict(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok := lazySeed(t, h)
	a, ha := h.begin(tok, "192.0.2.1:1234")
	b, hb := h.begin(tok, "192.0.2.1:1234")
	a.Set("x", 1)
	a.SetUser("alice")
	b.Set("y", 2) // loaded before a wrote: its commit conflicts
	h.commit(t, a, tok, ha)
	if err := h.m.Commit(b, hb); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	// The request that lost reads the record it rebased on.
	lazyCheckAll(t, b, map[string]any{"x": 1, "y": 2})
	if u := b.User(); u != "alice" {
		t.Errorf("the rebased request: User() = %q, want alice", u)
	}
	h.m.Release(b)
	h.request(t, tok, func(s *core.Session) {
		lazyCheckAll(t, s, map[string]any{"x": 1, "y": 2})
		if u := s.User(); u != "alice" {
			t.Errorf("User() = %q, want alice", u)
		}
	})

	// Many at once, each its own key.
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, hdr := h.begin(tok, "192.0.2.1:1234")
			s.Set("w"+string(rune('a'+i)), i)
			if err := h.m.Commit(s, hdr); err != nil {
				t.Errorf("Commit = %v", err)
			}
			h.m.Release(s)
		})
	}
	wg.Wait()
	h.request(t, tok, func(s *core.Session) {
		for i := range n {
			if v, _ := core.Value[int](s, "w"+string(rune('a'+i))); v != i {
				t.Errorf("w%c = %v, want %d", 'a'+i, v, i)
			}
		}
		if v, _ := s.Get("a-str"); v != "alice" {
			t.Errorf("a-str = %v, want alice", v)
		}
	})
}

// TestWriteInPlaceAllocations: an update that only sets a value of a
// stored ten-value session decodes none of them. The same update of a
// record that is not plain (it holds a public id) decodes them all and
// allocates the map and its values.
func TestWriteInPlaceAllocations(t *testing.T) {
	h := newHarness(t, core.Config{})
	plain := lazySeed(t, h)
	withID, _ := h.request(t, "", func(s *core.Session) {
		for k, v := range lazyTestValues() {
			s.Set(k, v)
		}
		s.ID()
	})
	update := func(tok string) float64 {
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", "session="+tok)
		return testing.AllocsPerRun(200, func() {
			s := h.m.Begin(req)
			s.Set("a-str", "changed")
			if err := h.m.Commit(s, nil); err != nil {
				t.Fatal(err)
			}
			h.m.Release(s)
		})
	}
	inPlace, decoded := update(plain), update(withID)
	t.Logf("an update: %.0f allocations written in place, %.0f decoded", inPlace, decoded)
	if inPlace > decoded-4 {
		t.Errorf("an update written in place allocates %.0f times, decoded %.0f; want at least 4 fewer", inPlace, decoded)
	}
}

// TestWriteInPlaceFiled: an update of a session filed under a user is not
// written in place, since it records the time of the write for
// UserSessions (LastSeen): neither when the update sets a value first
// (the load decodes such a record at once) nor when it reads one first
// (the commit decodes it), also when the session holds a value under the
// empty key, which sorts before the metadata.
func TestWriteInPlaceFiled(t *testing.T) {
	for _, c := range []struct{ readFirst, emptyKey bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		readFirst := c.readFirst
		h := newHarness(t, core.Config{})
		tok, _ := h.request(t, "", func(s *core.Session) {
			s.Set("a", 1)
			if c.emptyKey {
				s.Set("", "empty key")
			}
			s.SetUser("alice")
		})
		h.now = h.now.Add(time.Minute)
		h.request(t, tok, func(s *core.Session) {
			if readFirst {
				s.Get("a")
			}
			s.Set("a", 2)
		})
		infos, err := h.m.UserSessions(t.Context(), "alice")
		if err != nil || len(infos) != 1 {
			t.Fatalf("UserSessions = %v, %v; want one session", infos, err)
		}
		if !infos[0].LastSeen.Equal(h.now) {
			t.Errorf("read first %v: LastSeen = %v after an update at %v; want the update's time", readFirst, infos[0].LastSeen, h.now)
		}
		h.request(t, tok, func(s *core.Session) {
			if v, _ := s.Get("a"); v != 2 || s.User() != "alice" {
				t.Errorf("read first %v: after the update: a = %v, user %q; want 2, alice", readFirst, v, s.User())
			}
		})
	}
}

// TestWriteInPlaceValuesKept: after its commit, a request reads the
// values it set as it set them. Scalars are written in place (they
// decode to exactly what was set); a time.Time (its zone's name is not
// stored), a slice or a map (the session must return the one set, not a
// copy) make the commit decode the record, as before.
func TestWriteInPlaceValuesKept(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok := lazySeed(t, h)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	list := []string{"p", "q"}
	for _, v := range []any{"s", 7, int8(-8), uint64(1 << 60), 2.5, float32(1.5), true, nil, at, list, map[string]any{"k": "v"}, []byte("b")} {
		s, hdr := h.begin(tok, "192.0.2.1:1234")
		s.Set("v", v)
		before, _ := s.Get("v")
		h.commit(t, s, tok, hdr)
		s, hdr = h.begin(tok, "192.0.2.1:1234")
		s.Set("v", v)
		if err := h.m.Commit(s, hdr); err != nil {
			t.Fatalf("Commit = %v", err)
		}
		after, _ := s.Get("v")
		if !reflect.DeepEqual(after, before) {
			t.Errorf("Set(v, %#v): after the commit Get(v) = %#v", v, after)
		}
		if at, ok := after.(time.Time); ok && at.Location().String() != "X" {
			t.Errorf("after the commit the time's zone is %q, want X", at.Location())
		}
		if l, ok := after.([]string); ok && &l[0] != &list[0] {
			t.Error("after the commit Get(v) is a copy of the slice set, not the slice")
		}
		h.m.Release(s)
	}
}

// failingSwaps is the memory store with compare-and-swap calls that can
// be made to fail.
type failingSwaps struct {
	*memory.Store
	fail int
}

func (b *failingSwaps) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, exp time.Time) (uint64, error) {
	if b.fail > 0 {
		b.fail--
		return 0, errors.New("store down")
	}
	return b.Store.CompareAndSwap(ctx, key, version, data, exp)
}

// TestWriteInPlaceStoreBuffer: a request that wrote in place reads its
// values after the commit from the record written (the slice the store
// was given, which stores never modify), and its late commit stores them
// all; a store failure leaves the session as it was, for the late commit
// to store.
func TestWriteInPlaceStoreBuffer(t *testing.T) {
	h := newHarness(t, core.Config{})
	st := &failingSwaps{Store: h.store}
	m, err := core.New(core.Config{Store: st, Now: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	tok := lazySeed(t, h)
	s, hdr := h.begin(tok, "192.0.2.1:1234")
	s.Set("x", 1)
	if err := m.Commit(s, hdr); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("a-str"); v != "alice" {
		t.Errorf("after the commit Get(a-str) = %v, want alice", v)
	}
	s.Set("y", 2)
	if err := m.Commit(s, nil); err != nil {
		t.Fatalf("late Commit = %v", err)
	}
	m.Release(s)
	h.request(t, tok, func(s *core.Session) { lazyCheckAll(t, s, map[string]any{"x": 1, "y": 2}) })

	s, hdr = h.begin(tok, "192.0.2.1:1234")
	s.Set("z", 3)
	st.fail = 1
	if err := m.Commit(s, hdr); err == nil {
		t.Fatal("Commit with the store down = nil, want its error")
	}
	if v, _ := s.Get("z"); v != 3 {
		t.Errorf("after the failed commit Get(z) = %v, want 3", v)
	}
	if err := m.Commit(s, nil); err != nil {
		t.Fatalf("late Commit = %v", err)
	}
	m.Release(s)
	h.request(t, tok, func(s *core.Session) { lazyCheckAll(t, s, map[string]any{"x": 1, "y": 2, "z": 3}) })
}

// TestWriteInPlaceTooLarge: a change that makes the record exceed
// MaxRecordSize fails the commit with ErrTooLarge and stores nothing.
func TestWriteInPlaceTooLarge(t *testing.T) {
	h := newHarness(t, core.Config{MaxRecordSize: 400})
	tok := lazySeed(t, h)
	s, hdr := h.begin(tok, "192.0.2.1:1234")
	s.Set("big", strings.Repeat("x", 500))
	if err := h.m.Commit(s, hdr); !errors.Is(err, core.ErrTooLarge) {
		t.Fatalf("Commit = %v, want ErrTooLarge", err)
	}
	h.m.Release(s)
	h.request(t, tok, func(s *core.Session) { lazyCheckAll(t, s, nil) })
}
