package core_test

import (
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// lazyTestValues is a stored session with scalars, which Get reads from
// the record kept encoded, and containers, which make it decode them all.
func lazyTestValues() map[string]any {
	return map[string]any{
		"a-str":   "alice",
		"b-int":   4711,
		"c-i64":   int64(-3),
		"d-bool":  true,
		"e-time":  time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		"f-float": 2.5,
		"g-list":  []string{"x", "y"},
		"h-map":   map[string]any{"k": "v"},
		"i-bytes": []byte{1, 2, 3},
		"j-str":   "last",
	}
}

// lazySeed stores lazyTestValues and returns the session's token.
func lazySeed(t *testing.T, h *harness) string {
	t.Helper()
	tok, _ := h.request(t, "", func(s *core.Session) {
		for k, v := range lazyTestValues() {
			s.Set(k, v)
		}
	})
	if tok == "" {
		t.Fatal("seeding stored no session")
	}
	return tok
}

// lazyCheckAll fails unless s holds exactly lazyTestValues plus extra.
func lazyCheckAll(t *testing.T, s *core.Session, extra map[string]any) {
	t.Helper()
	want := lazyTestValues()
	for k, v := range extra {
		want[k] = v
	}
	got := map[string]any{}
	for _, k := range s.Keys() {
		got[k], _ = s.Get(k)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("session holds %#v, want %#v", got, want)
	}
}

// TestLazyRead: a request that reads a stored session gets every value as
// it was stored, however many it reads and in whatever order, whether the
// value is read from the record kept encoded or after decoding it.
func TestLazyRead(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok := lazySeed(t, h)
	want := lazyTestValues()
	for _, keys := range [][]string{
		{"a-str"},
		{"j-str", "a-str", "b-int", "missing"},
		{"a-str", "b-int", "c-i64", "d-bool", "e-time", "f-float", "j-str", "missing"}, // more than are read one at a time
		{"g-list", "a-str", "h-map", "i-bytes"},                                        // a container first
		{"b-int", "i-bytes", "e-time"},                                                 // a container between scalars
	} {
		h.request(t, tok, func(s *core.Session) {
			for _, k := range keys {
				v, ok := s.Get(k)
				if w, there := want[k]; ok != there || !reflect.DeepEqual(v, w) {
					t.Errorf("reading %v: Get(%q) = %#v, %v; want %#v, %v", keys, k, v, ok, w, there)
				}
			}
			if v, ok := core.Value[int64](s, "b-int"); !ok || v != 4711 {
				t.Errorf("Value[int64](b-int) = %v, %v; want 4711, true", v, ok)
			}
			// Any other method sees every value.
			if n := s.Len(); n != len(want) {
				t.Errorf("after reading %v: Len() = %d, want %d", keys, n, len(want))
			}
		})
	}
	// A container read twice is the same value both times, as it is
	// when the record is decoded at once.
	h.request(t, tok, func(s *core.Session) {
		s.Get("a-str")
		l1, _ := core.Value[[]string](s, "g-list")
		l1[0] = "changed in place"
		if l2, _ := core.Value[[]string](s, "g-list"); l2[0] != "changed in place" {
			t.Errorf("the second read of g-list = %q, not the slice the first returned", l2)
		}
	})
}

// TestLazyReadThenWrite: a request that reads some values and then
// changes, deletes or renews stores every other value too. Each method
// that is not a read decodes the values the reads left encoded.
func TestLazyReadThenWrite(t *testing.T) {
	for _, c := range []struct {
		name  string
		write func(s *core.Session)
		extra map[string]any
	}{
		{"Set", func(s *core.Session) { s.Set("new", "value") }, map[string]any{"new": "value"}},
		{"Delete", func(s *core.Session) { s.Set("new", 1); s.Delete("new") }, nil},
		{"Pop", func(s *core.Session) { s.Set("new", 2); s.Pop("new") }, nil},
		{"Renew", func(s *core.Session) { s.Renew() }, nil},
		{"AddFlash", func(s *core.Session) { s.AddFlash("hello") }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, core.Config{})
			tok := lazySeed(t, h)
			tok2, _ := h.request(t, tok, func(s *core.Session) {
				if v, _ := s.Get("j-str"); v != "last" {
					t.Errorf("Get(j-str) = %v", v)
				}
				c.write(s)
			})
			h.request(t, tok2, func(s *core.Session) {
				s.Flashes()
				lazyCheckAll(t, s, c.extra)
			})
		})
	}
}

// TestLazyReadRefresh: a read that pushes the idle deadline forward on a
// store without Touch rewrites the record, with every value, though the
// request read only one.
func TestLazyReadRefresh(t *testing.T) {
	h := newHarness(t, core.Config{IdleTimeout: 30 * time.Minute, IdleRefreshFraction: 0.1})
	m, err := core.New(core.Config{
		Store:       struct{ core.Store }{h.store}, // no Toucher, no CompareAndSwapper
		IdleTimeout: 30 * time.Minute, IdleRefreshFraction: 0.1,
		Now: func() time.Time { return h.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	tok := lazySeed(t, h)
	h.now = h.now.Add(10 * time.Minute) // past a tenth of the idle timeout
	var before time.Time
	if rec, ok, err := h.store.Load(t.Context(), core.StoreKey(tok)); err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	} else {
		before = rec.Expiry
	}
	h.request(t, tok, func(s *core.Session) {
		if v, _ := s.Get("a-str"); v != "alice" {
			t.Errorf("Get(a-str) = %v", v)
		}
	})
	rec, ok, err := h.store.Load(t.Context(), core.StoreKey(tok))
	if err != nil || !ok || !rec.Expiry.After(before) {
		t.Fatalf("after the refresh: Load = %v, %v, expiry %v (was %v); want a later expiry", ok, err, rec.Expiry, before)
	}
	h.request(t, tok, func(s *core.Session) { lazyCheckAll(t, s, nil) })
}

// TestLazyReadReleased: after its request ends, a session read from a
// record kept encoded is empty, as any released session is.
func TestLazyReadReleased(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok := lazySeed(t, h)
	s, hdr := h.begin(tok, "192.0.2.1:1234")
	if v, _ := s.Get("a-str"); v != "alice" {
		t.Fatalf("Get(a-str) = %v", v)
	}
	h.commit(t, s, tok, hdr)
	if v, ok := s.Get("j-str"); ok {
		t.Errorf("Get(j-str) after Release = %v, true; want nothing", v)
	}
}

// TestLazyReadAllocations: reading one value of a stored ten-value
// session decodes that value only. The full decode, which reading a
// container needs, allocates the map and its values.
func TestLazyReadAllocations(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok := lazySeed(t, h)
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", "session="+tok)
	cycle := func(use func(s *core.Session)) float64 {
		return testing.AllocsPerRun(200, func() {
			s := h.m.Begin(req)
			use(s)
			if err := h.m.Commit(s, nil); err != nil {
				t.Fatal(err)
			}
			h.m.Release(s)
		})
	}
	one := cycle(func(s *core.Session) { s.Get("a-str") })
	decoded := cycle(func(s *core.Session) { s.Get("g-list") }) // a container: decoded with all the others
	if one+3 > decoded {
		t.Errorf("reading a string: %v allocations; reading a list (a full decode): %v; want at least 3 fewer", one, decoded)
	}
}

// TestLazyReadRetiredMarker: a record that holds the retired marker is
// not a session, whatever the marker's value (found by review: a
// container there was read as no marker).
func TestLazyReadRetiredMarker(t *testing.T) {
	for _, marker := range []any{true, "x", []string{"x"}, map[string]any{}} {
		h := newHarness(t, core.Config{})
		tok := lazySeed(t, h)
		data, err := core.BinaryCodec{}.Encode(h.now, map[string]any{"\x00sessionkit.retired": marker, "a-str": "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.Save(t.Context(), core.StoreKey(tok), data, h.now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		h.request(t, tok, func(s *core.Session) {
			if v, ok := s.Get("a-str"); ok || !s.IsNew() {
				t.Errorf("marker %#v: Get(a-str) = %v, %v, IsNew %v; want a new session", marker, v, ok, s.IsNew())
			}
		})
	}
}

// TestLazyReadConcurrent: goroutines of one request read and write a
// session kept encoded at the same time (run with -race); every value
// read is the stored one, and the commit keeps every value.
func TestLazyReadConcurrent(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok := lazySeed(t, h)
	want := lazyTestValues()
	for round := range 20 {
		tok, _ = h.request(t, tok, func(s *core.Session) {
			s.Get("a-str") // the load keeps the record encoded
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for _, k := range []string{"a-str", "j-str", "b-int", "e-time", "g-list"} {
						if v, ok := s.Get(k); !ok || !reflect.DeepEqual(v, want[k]) {
							t.Errorf("goroutine %d: Get(%q) = %#v, %v; want %#v", g, k, v, ok, want[k])
						}
					}
					if g == round%8 {
						s.Set("written", round)
					}
				})
			}
			wg.Wait()
		})
	}
	h.request(t, tok, func(s *core.Session) { lazyCheckAll(t, s, map[string]any{"written": 19}) })
}
