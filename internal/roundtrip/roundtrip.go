// Package roundtrip counts the store round trips that whole requests cost
// through a Manager and the net/http middleware: untouched, new, read,
// update and renew, the request kinds of bench/RESULTS.md. The network
// stores' tests assert the counts with Check, so that a change which adds a
// round trip to a request fails a test rather than only a benchmark.
//
// Round trips are counted on the wire by Counter (a dialer whose
// connections count request/response exchanges) or, for in-process stores,
// as store calls by Calls.
package roundtrip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
)

// Counter counts round trips on the connections it dials: a write that
// follows a read (or opens the connection) begins a new round trip, so a
// command written in several pieces, or several commands pipelined before
// the first reply is read, count once. A round trip ends when the first
// bytes of its answer are read.
//
// Count counts every round trip on every connection. Sequential counts
// only those that began while no other was in flight on any connection of
// the Counter: the round trips that a request waits for one after the
// other, its latency in round trips. The two differ only for a client that
// sends commands at once on several connections, as memcachestore's Renew
// does with its two writes.
//
// Latency, when set before the first Dial, holds back the answer of every
// round trip until Latency after its first write, as a server that far
// away would: what counts as in flight at once then no longer depends on
// how quickly goroutines are scheduled next to a server on the same
// machine, which answers in microseconds.
type Counter struct {
	Latency time.Duration

	n, seq   atomic.Int64
	inFlight atomic.Int64
}

// Dial dials network, addr and returns a connection whose round trips c
// counts. Its signature fits the dialer hooks of go-redis, gomemcache,
// pgx and go-sql-driver/mysql.
func (c *Counter) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	rc := &countedConn{Conn: conn, c: c}
	rc.reading.Store(true)
	return rc, nil
}

// Count returns the round trips counted so far, on all connections.
func (c *Counter) Count() int64 { return c.n.Load() }

// Sequential returns the round trips counted so far that began while no
// other round trip was in flight.
func (c *Counter) Sequential() int64 { return c.seq.Load() }

// countedConn is a connection that counts its round trips in c.
type countedConn struct {
	net.Conn
	c       *Counter
	reading atomic.Bool
	waiting atomic.Bool  // a round trip of this connection is in flight
	sent    atomic.Int64 // when it began, in Unix nanoseconds (with Latency)
}

func (rc *countedConn) Write(p []byte) (int, error) {
	if rc.reading.Swap(false) {
		rc.c.n.Add(1)
		if rc.c.Latency > 0 {
			rc.sent.Store(time.Now().UnixNano())
		}
		if !rc.waiting.Swap(true) && rc.c.inFlight.Add(1) == 1 {
			rc.c.seq.Add(1)
		}
	}
	return rc.Conn.Write(p)
}

func (rc *countedConn) Read(p []byte) (int, error) {
	rc.reading.Store(true)
	n, err := rc.Conn.Read(p)
	if n > 0 && rc.c.Latency > 0 && rc.waiting.Load() {
		time.Sleep(time.Until(time.Unix(0, rc.sent.Load()).Add(rc.c.Latency)))
	}
	if (n > 0 || err != nil) && rc.waiting.Swap(false) {
		rc.c.inFlight.Add(-1) // answered (or never will be)
	}
	return n, err
}

func (rc *countedConn) Close() error {
	if rc.waiting.Swap(false) {
		rc.c.inFlight.Add(-1)
	}
	return rc.Conn.Close()
}

// Counts is the number of round trips of each request kind.
type Counts struct {
	Untouched, New, Read, Update, Renew int64
}

// String lists the counts in the order of the fields.
func (c Counts) String() string {
	return fmt.Sprintf("untouched %d, new %d, read %d, update %d, renew %d", c.Untouched, c.New, c.Read, c.Update, c.Renew)
}

// Diff describes every count of got that differs from want, or returns ""
// when they agree.
func (got Counts) Diff(want Counts) string {
	var b strings.Builder
	for _, f := range []struct {
		name      string
		got, want int64
	}{
		{"untouched", got.Untouched, want.Untouched},
		{"new", got.New, want.New},
		{"read", got.Read, want.Read},
		{"update", got.Update, want.Update},
		{"renew", got.Renew, want.Renew},
	} {
		if f.got != f.want {
			fmt.Fprintf(&b, "%s request: %d round trips, want %d; ", f.name, f.got, f.want)
		}
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// Floor is what every store should cost at the least: nothing for an
// untouched request, one round trip to load, one more to write.
var Floor = Counts{Untouched: 0, New: 1, Read: 1, Update: 2, Renew: 2}

// repeats is how often each request kind is measured; every measurement
// must agree.
const repeats = 3

// Measure serves each request kind through a Manager on store (the default
// configuration) and the net/http middleware, and returns how much count
// grew per request. Each kind is served once unmeasured first, so that
// statements are prepared and connections open. Every measurement of a
// kind must agree; a kind whose requests differ fails t.
func Measure(t testing.TB, store core.Store, count func() int64) Counts {
	t.Helper()
	m, err := core.New(core.Config{Store: store})
	if err != nil {
		t.Fatalf("core.New = %v", err)
	}
	var flip atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /untouched", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /seed", func(_ http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		for i := range 10 {
			s.Set(fmt.Sprintf("k%d", i), fmt.Sprintf("value-%d", i))
		}
	})
	mux.HandleFunc("GET /new", func(_ http.ResponseWriter, r *http.Request) { nethttp.Get(r).Set("user", "alice") })
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		v, _ := core.Value[string](nethttp.Get(r), "k3")
		_, _ = w.Write([]byte(v))
	})
	mux.HandleFunc("GET /update", func(_ http.ResponseWriter, r *http.Request) {
		nethttp.Get(r).Set("k3", fmt.Sprint(flip.Load()))
		flip.Store(!flip.Load())
	})
	mux.HandleFunc("GET /renew", func(_ http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		s.Renew()
		s.Set("user", "alice")
	})
	h := nethttp.Middleware(m)(mux)
	name := m.Config().Cookie.Name
	serve := func(path, cookie string) string {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d, body %q", path, w.Code, w.Body)
		}
		for _, c := range w.Result().Cookies() {
			if c.Name == name && c.MaxAge >= 0 && c.Value != "" {
				return c.Name + "=" + c.Value
			}
		}
		return ""
	}
	seed := func() string {
		c := serve("/seed", "")
		if c == "" {
			t.Fatalf("GET /seed: no %s cookie", name)
		}
		return c
	}
	// measure serves path (with a freshly seeded session when seeded) and
	// returns its round trips.
	measure := func(path string, seeded bool) int64 {
		cookie := ""
		if seeded {
			cookie = seed()
		}
		before := count()
		serve(path, cookie)
		return count() - before
	}
	kinds := []struct {
		path   string
		seeded bool
		dst    *int64
	}{
		{"/untouched", true, new(int64)},
		{"/new", false, new(int64)},
		{"/read", true, new(int64)},
		{"/update", true, new(int64)},
		{"/renew", true, new(int64)},
	}
	for _, k := range kinds {
		measure(k.path, k.seeded) // warm-up
		*k.dst = measure(k.path, k.seeded)
		for range repeats - 1 {
			if n := measure(k.path, k.seeded); n != *k.dst {
				t.Fatalf("GET %s: %d round trips, then %d: the count is not stable", k.path, *k.dst, n)
			}
		}
	}
	return Counts{Untouched: *kinds[0].dst, New: *kinds[1].dst, Read: *kinds[2].dst, Update: *kinds[3].dst, Renew: *kinds[4].dst}
}

// Check measures store's requests (see Measure) and fails t unless every
// count equals want's; it logs the counts either way, as "round trips per
// request: ...", the line bench/cmd/report reads.
func Check(t testing.TB, store core.Store, count func() int64, want Counts) Counts {
	t.Helper()
	return check(t, "round trips", store, count, want)
}

// CheckCommands is Check for a count of every exchange (Counter.Count) of
// a store whose round trips Check measures with Counter.Sequential: it
// logs "commands per request: ...".
func CheckCommands(t testing.TB, store core.Store, count func() int64, want Counts) Counts {
	t.Helper()
	return check(t, "commands", store, count, want)
}

func check(t testing.TB, what string, store core.Store, count func() int64, want Counts) Counts {
	t.Helper()
	got := Measure(t, store, count)
	t.Logf("%s per request: %v", what, got)
	if d := got.Diff(want); d != "" {
		t.Errorf("%s (%s: a round trip was added or removed: update the store's documented counts)", d, what)
	}
	return got
}

// Calls wraps an in-process store whose calls stand in for round trips:
// every Load, Save, Delete, CompareAndSwap and Touch counts one. The
// wrapped store must implement core.CompareAndSwapper and core.Toucher;
// Calls hides its other capabilities (RenewerCalls keeps core.Renewer).
type Calls struct {
	store interface {
		core.Store
		core.CompareAndSwapper
		core.Toucher
	}
	n atomic.Int64
}

// NewCalls returns a Calls around store.
func NewCalls(store interface {
	core.Store
	core.CompareAndSwapper
	core.Toucher
}) *Calls {
	return &Calls{store: store}
}

// Count returns the calls counted so far.
func (c *Calls) Count() int64 { return c.n.Load() }

// Load implements core.Store.
func (c *Calls) Load(ctx context.Context, key string) (core.Record, bool, error) {
	c.n.Add(1)
	return c.store.Load(ctx, key)
}

// Save implements core.Store.
func (c *Calls) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	c.n.Add(1)
	return c.store.Save(ctx, key, data, expiry)
}

// Delete implements core.Store.
func (c *Calls) Delete(ctx context.Context, key string) error {
	c.n.Add(1)
	return c.store.Delete(ctx, key)
}

// CompareAndSwap implements core.CompareAndSwapper.
func (c *Calls) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, expiry time.Time) (uint64, error) {
	c.n.Add(1)
	return c.store.CompareAndSwap(ctx, key, version, data, expiry)
}

// Touch implements core.Toucher.
func (c *Calls) Touch(ctx context.Context, key string, expiry time.Time) error {
	c.n.Add(1)
	return c.store.Touch(ctx, key, expiry)
}

// RenewerCalls is Calls around a store that also implements core.Renewer,
// which it keeps: every Renew counts one call too.
type RenewerCalls struct {
	*Calls
	renewer core.Renewer
}

// NewRenewerCalls returns a RenewerCalls around store.
func NewRenewerCalls(store interface {
	core.Store
	core.Toucher
	core.Renewer
}) *RenewerCalls {
	return &RenewerCalls{Calls: NewCalls(store), renewer: store}
}

// Renew implements core.Renewer.
func (c *RenewerCalls) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	c.n.Add(1)
	return c.renewer.Renew(ctx, r)
}
