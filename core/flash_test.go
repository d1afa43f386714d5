package core_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// TestFlashesExactlyOnce: concurrent AddFlash calls keep every message,
// and each message is returned by exactly one of concurrent Flashes calls.
func TestFlashesExactlyOnce(t *testing.T) {
	for name, newStore := range contentionStores(t) {
		t.Run(name, func(t *testing.T) {
			m, err := core.New(core.Config{Store: newStore(t)})
			if err != nil {
				t.Fatal(err)
			}
			cookie := contentionRequest(t, m, "", func(s *core.Session) { s.Set("user", "ann") })

			// 16 requests, all loaded at the same version, each add a message.
			const adders = 16
			concurrently(t, m, cookie, adders, func(i int, s *core.Session) { s.AddFlash(fmt.Sprintf("m%02d", i)) })
			var got []string
			contentionRequest(t, m, cookie, func(s *core.Session) { got = s.Flashes() })
			var want []string
			for i := range adders {
				want = append(want, fmt.Sprintf("m%02d", i))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("Flashes() after %d concurrent AddFlash = %v, want all %d messages", adders, got, adders)
			}
			contentionRequest(t, m, cookie, func(s *core.Session) {
				if again := s.Flashes(); again != nil {
					t.Errorf("Flashes() a second time = %v, want nil", again)
				}
			})

			// One queued message, 8 requests loaded before any claims it.
			contentionRequest(t, m, cookie, func(s *core.Session) { s.AddFlash("once") })
			const readers = 8
			var mu sync.Mutex
			shown := 0
			concurrently(t, m, cookie, readers, func(i int, s *core.Session) {
				for _, msg := range s.Flashes() {
					if msg == "once" {
						mu.Lock()
						shown++
						mu.Unlock()
					}
				}
			})
			if shown != 1 {
				t.Errorf("a queued message was shown by %d of %d concurrent requests, want exactly 1", shown, readers)
			}
			contentionRequest(t, m, cookie, func(s *core.Session) {
				if v, _ := s.Get("user"); v != "ann" {
					t.Errorf("Get(user) after the claims = %v, want ann", v)
				}
			})
		})
	}
}

// concurrently runs n requests on cookie's session: all load it first,
// then each runs fn in its own goroutine and commits.
func concurrently(t *testing.T, m *core.Manager, cookie string, n int, fn func(i int, s *core.Session)) {
	t.Helper()
	sessions := make([]*core.Session, n)
	for i := range sessions {
		sessions[i] = m.Begin(contentionReq(cookie))
		sessions[i].IsNew() // load now, at the same version as the others
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range sessions {
		wg.Go(func() {
			fn(i, s)
			errs[i] = m.Commit(s, http.Header{})
			m.Release(s)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: Commit = %v", i, err)
		}
	}
}

// TestFlashesWithoutCompareAndSwap: without compare-and-swap, Flashes
// still returns and removes the messages (the weaker guarantee).
func TestFlashesWithoutCompareAndSwap(t *testing.T) {
	h := newHarness(t, core.Config{})
	h2 := newHarness(t, core.Config{Store: struct{ core.Store }{h.store}})
	tok, _ := h2.request(t, "", func(s *core.Session) { s.AddFlash("a"); s.AddFlash("b") })
	h2.request(t, tok, func(s *core.Session) {
		if got := s.Flashes(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("Flashes() = %v, want [a b] in order", got)
		}
		if got := s.Flashes(); got != nil {
			t.Errorf("Flashes() again in the same request = %v, want nil", got)
		}
	})
	h2.request(t, tok, func(s *core.Session) {
		if got := s.Flashes(); got != nil {
			t.Errorf("Flashes() on the next request = %v, want nil", got)
		}
	})
}

// TestFlashesAreNotValues: flash entries are the core's metadata: Keys
// does not list them, Clear keeps them, and the legacy FlashKey list is
// still returned.
func TestFlashesAreNotValues(t *testing.T) {
	h := newHarness(t, core.Config{})
	tok, _ := h.request(t, "", func(s *core.Session) {
		s.AddFlash("one")
		s.Set(core.FlashKey, []string{"legacy"})
		if k := s.Keys(); !slices.Equal(k, []string{core.FlashKey}) {
			t.Errorf("Keys() = %q, want only the application's keys", k)
		}
	})
	h.now = h.now.Add(time.Millisecond)
	h.request(t, tok, func(s *core.Session) {
		s.Clear()
		for i := range 20 { // more than one hex digit of sequence
			s.AddFlash(fmt.Sprint("x", i))
		}
		want := []string{"one"} // kept by Clear; the legacy list was a value and went
		for i := range 20 {
			want = append(want, fmt.Sprint("x", i))
		}
		if got := s.Flashes(); !slices.Equal(got, want) {
			t.Errorf("Flashes() after Clear = %v, want %v", got, want)
		}
		s.AddFlash("two")
		if got := s.Flashes(); strings.Join(got, ",") != "two" {
			t.Errorf("Flashes() once more = %v, want [two]", got)
		}
	})
}

// TestFlashOrderWhenTheClockStandsStill: messages added by requests one
// after the other come back oldest first when the clock does not move
// between them, and when it steps back (NTP, or another server's clock
// behind the first's): the order within a request alone used to break
// the tie, so messages of different requests came back in random order.
func TestFlashOrderWhenTheClockStandsStill(t *testing.T) {
	for _, step := range []time.Duration{0, -10 * time.Second} {
		t.Run(fmt.Sprintf("step=%v", step), func(t *testing.T) {
			h := newHarness(t, core.Config{})
			tok := ""
			var want []string
			for i := range 8 {
				msg := fmt.Sprintf("m%d", i)
				want = append(want, msg)
				tok, _ = h.request(t, tok, func(s *core.Session) { s.AddFlash(msg) })
				h.now = h.now.Add(step)
			}
			// Two in one request after them, still in order.
			want = append(want, "m8", "m9")
			tok, _ = h.request(t, tok, func(s *core.Session) { s.AddFlash("m8"); s.AddFlash("m9") })
			var got []string
			h.request(t, tok, func(s *core.Session) { got = s.Flashes() })
			if !slices.Equal(got, want) {
				t.Errorf("Flashes = %v, want %v", got, want)
			}
		})
	}
}
