package memcachestore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/roundtrip"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/memcachestore"
)

// newKey returns a key shaped like the core's: hex SHA-256 of random bytes.
func newKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// uniquePrefix keeps tests apart on a shared server (SESSIONKIT_MEMCACHE_ADDR).
func uniquePrefix() string {
	return "sessionkit-test:" + newKey()[:12] + ":"
}

// newClient returns a client on addrs with a timeout of 2 s: short
// enough that a test of a dead server ends soon, long enough that a real
// server on a machine loaded by the other tests (make test runs three
// modules' tests at once, each with many clients) is not taken for a
// dead one (500 ms, gomemcache's default, timed out now and then there:
// "i/o timeout", "connect timeout" in the conformance checks). Tests of
// the timeouts themselves set their own.
func newClient(addrs ...string) *gomemcache.Client {
	c := gomemcache.New(addrs...)
	c.Timeout = 2 * time.Second
	return c
}

// newStore returns a store with its own key prefix on client.
func newStore(t testing.TB, client *gomemcache.Client) *memcachestore.Store {
	t.Helper()
	s, err := memcachestore.New(client, memcachestore.Config{KeyPrefix: uniquePrefix()})
	if err != nil {
		t.Fatalf("memcachestore.New: %v", err)
	}
	return s
}

func TestNewValidatesConfig(t *testing.T) {
	c := newClient("127.0.0.1:1")
	for _, cfg := range []memcachestore.Config{
		{KeyPrefix: strings.Repeat("p", memcachestore.MaxKeyPrefixLen+1)},
		{KeyPrefix: "has space:"},
		{KeyPrefix: "ctl\n"},
		{MaxItemSize: memcachestore.HeaderSize},
	} {
		if _, err := memcachestore.New(c, cfg); err == nil {
			t.Errorf("New(%+v) error = nil, want an error", cfg)
		}
	}
	if _, err := memcachestore.New(nil, memcachestore.Config{}); err == nil {
		t.Error("New(nil client) error = nil, want an error")
	}
	s, err := memcachestore.New(c, memcachestore.Config{KeyPrefix: strings.Repeat("p", memcachestore.MaxKeyPrefixLen)})
	if err != nil {
		t.Fatalf("New with a %d-byte prefix: %v, want it accepted (prefix+64 = 250)", memcachestore.MaxKeyPrefixLen, err)
	}
	if got, want := s.MaxRecordSize(), memcachestore.DefaultMaxItemSize-memcachestore.HeaderSize; got != want {
		t.Errorf("MaxRecordSize() = %d, want %d", got, want)
	}
}

func TestLongestPrefixWorks(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix()
	prefix += strings.Repeat("p", memcachestore.MaxKeyPrefixLen-len(prefix))
	s, err := memcachestore.New(newClient(testserver.Memcached(t)), memcachestore.Config{KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	key := newKey()
	if err := s.Save(ctx, key, []byte("x"), time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("Save with a %d-byte prefix: %v", len(prefix), err)
	}
	if rec, found, err := s.Load(ctx, key); err != nil || !found || string(rec.Data) != "x" {
		t.Errorf("Load = %q, %v, %v; want %q", rec.Data, found, err, "x")
	}
}

func TestRoundTripAndExactExpiry(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newClient(testserver.Memcached(t)))
	key := newKey()
	exp := time.Now().Add(time.Hour).Add(123456789 * time.Nanosecond)
	if err := s.Save(ctx, key, []byte("hello"), exp); err != nil {
		t.Fatal(err)
	}
	rec, found, err := s.Load(ctx, key)
	if err != nil || !found || string(rec.Data) != "hello" || !rec.Expiry.Equal(exp) || rec.Version == 0 {
		t.Fatalf("Load = %q, %v, v%d, %v, %v; want %q, %v, non-zero version", rec.Data, rec.Expiry, rec.Version, found, err, "hello", exp)
	}
	if err := s.Save(ctx, key, []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Load(ctx, key); found || err != nil {
		t.Errorf("Load after Save with a past expiry = %v, %v, want not found", found, err)
	}
}

// TestFortyDayExpiry checks memcached's rule that expirations beyond 30 days
// are absolute Unix times: sent as relative seconds, the item would be read
// as expiring in 1970 and vanish at once.
func TestFortyDayExpiry(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newClient(testserver.Memcached(t)))
	key := newKey()
	exp := time.Now().Add(40 * 24 * time.Hour)
	if err := s.Save(ctx, key, []byte("long"), exp); err != nil {
		t.Fatal(err)
	}
	rec, found, err := s.Load(ctx, key)
	if err != nil || !found || string(rec.Data) != "long" || !rec.Expiry.Equal(exp) {
		t.Errorf("Load of a record with a 40-day expiry = %q, %v, %v, %v; want %q, %v", rec.Data, rec.Expiry, found, err, "long", exp)
	}
	if err := s.Touch(ctx, key, exp.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Load(ctx, key); !found {
		t.Error("Load after Touch to 41 days: not found")
	}
	if _, err := s.CompareAndSwap(ctx, newKey(), 0, []byte("cas"), exp); err != nil {
		t.Fatal(err)
	}
}

func TestTouchReportsNewExpiryKeepsVersion(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newClient(testserver.Memcached(t)))
	key := newKey()
	v, err := s.CompareAndSwap(ctx, key, 0, []byte("data"), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(3 * time.Hour)
	if err := s.Touch(ctx, key, exp); err != nil {
		t.Fatal(err)
	}
	rec, found, err := s.Load(ctx, key)
	if err != nil || !found || string(rec.Data) != "data" || rec.Version != v || !rec.Expiry.Equal(exp) {
		t.Fatalf("Load after Touch = %q v%d %v, %v, %v; want %q v%d %v", rec.Data, rec.Version, rec.Expiry, found, err, "data", v, exp)
	}
	if _, err := s.CompareAndSwap(ctx, key, v, []byte("next"), exp); err != nil {
		t.Errorf("CompareAndSwap with the version from before Touch = %v, want success: Touch keeps the version", err)
	}
	missing := newKey()
	if err := s.Touch(ctx, missing, exp); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Touch(missing) = %v, want core.ErrNotFound", err)
	}
	if _, found, _ := s.Load(ctx, missing); found {
		t.Error("Touch created a missing record")
	}
	if err := s.Touch(ctx, key, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Load(ctx, key); found {
		t.Error("Load after Touch with a past expiry found the record")
	}
}

func TestMaxItemSize(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newClient(testserver.StartMemcached(t).Addr))
	key := newKey()
	big := bytes.Repeat([]byte{'b'}, s.MaxRecordSize())
	// The default limit must fit a default memcached (-I 1m).
	if err := s.Save(ctx, key, big, time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("Save of MaxRecordSize() = %d bytes: %v", len(big), err)
	}
	if rec, found, err := s.Load(ctx, key); err != nil || !found || !bytes.Equal(rec.Data, big) {
		t.Fatalf("Load of the largest record: %d bytes, %v, %v", len(rec.Data), found, err)
	}
	tooBig := append(big, 'x')
	if err := s.Save(ctx, key, tooBig, time.Now().Add(time.Minute)); !errors.Is(err, core.ErrTooLarge) {
		t.Errorf("Save of MaxRecordSize()+1 bytes = %v, want ErrTooLarge", err)
	}
	if rec, found, _ := s.Load(ctx, key); !found || !bytes.Equal(rec.Data, big) {
		t.Error("the previous record did not survive a too-large Save")
	}
	if _, err := s.CompareAndSwap(ctx, key, 0, tooBig, time.Now().Add(time.Minute)); !errors.Is(err, core.ErrTooLarge) {
		t.Errorf("CompareAndSwap of MaxRecordSize()+1 bytes = %v, want ErrTooLarge", err)
	}
	// A limit above the server's: the server's rejection is ErrTooLarge too.
	loose, _ := memcachestore.New(newClient(testserver.StartMemcached(t).Addr), memcachestore.Config{MaxItemSize: 4 << 20})
	if err := loose.Save(ctx, key, bytes.Repeat([]byte{'c'}, 2<<20), time.Now().Add(time.Minute)); !errors.Is(err, core.ErrTooLarge) {
		t.Errorf("Save of 2 MiB to a 1 MiB server = %v, want ErrTooLarge", err)
	}
}

func TestInvalidKeysAndForeignValues(t *testing.T) {
	ctx := context.Background()
	addr := testserver.Memcached(t)
	prefix := uniquePrefix()
	s, _ := memcachestore.New(newClient(addr), memcachestore.Config{KeyPrefix: prefix})
	for _, key := range []string{"", "../../etc/passwd", "a b", newKey()[:63], strings.ToUpper(newKey())} {
		if _, _, err := s.Load(ctx, key); !errors.Is(err, core.ErrInvalidKey) {
			t.Errorf("Load(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Save(ctx, key, nil, time.Now().Add(time.Minute)); !errors.Is(err, core.ErrInvalidKey) {
			t.Errorf("Save(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
	key := newKey()
	newClient(addr).Set(&gomemcache.Item{Key: prefix + key, Value: []byte("foreign")})
	_, _, err := s.Load(ctx, key)
	if !errors.Is(err, core.ErrCorrupt) {
		t.Errorf("Load of a foreign value = %v, want ErrCorrupt", err)
	}
	if err != nil && strings.Contains(err.Error(), key) {
		t.Errorf("error %q contains the store key", err)
	}
}

// TestContextDeadlineBeatsHungServer uses a listener that accepts and never
// answers: the call must return with the context's error, not wait.
func TestContextDeadlineBeatsHungServer(t *testing.T) {
	client := gomemcache.New(testserver.Silent(t))
	client.Timeout = 3 * time.Second
	s, _ := memcachestore.New(client, memcachestore.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := testserver.Within(t, 2*time.Second, "Load", func() error { _, _, err := s.Load(ctx, newKey()); return err })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load against a silent server with a 100ms deadline = %v, want context.DeadlineExceeded", err)
	}
}

// TestFarDeadlineRunsInPlace: a call whose deadline is further away than
// the client's Timeout could take runs in place (no goroutine: the
// allocations of a call without deadline), a nearer one in a goroutine; a
// silent server then fails the in-place call within the client's Timeout,
// long before the deadline.
func TestFarDeadlineRunsInPlace(t *testing.T) {
	s := newStore(t, newClient(testserver.Memcached(t)))
	key := newKey()
	if err := s.Save(context.Background(), key, []byte("a session record"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The least of three counts: the client's connection pool and the
	// race detector's pools add an allocation now and then.
	allocs := func(ctx context.Context) float64 {
		least := math.Inf(1)
		for range 3 {
			least = min(least, testing.AllocsPerRun(50, func() {
				if _, found, err := s.Load(ctx, key); err != nil || !found {
					t.Fatal(found, err)
				}
			}))
		}
		return least
	}
	far, cancelFar := context.WithTimeout(context.Background(), time.Hour)
	defer cancelFar()
	// newClient's Timeout is 2 s: a Load (a get: connect, send, the
	// value, END) may take 4 of them, so 2 s is too near to run in place.
	near, cancelNear := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelNear()
	none, inPlace, inGoroutine := allocs(context.Background()), allocs(far), allocs(near)
	if inPlace > none || inGoroutine < inPlace+2 {
		t.Errorf("Load allocations: %v without deadline, %v with one an hour away, %v with one 2 s away; want the second no more than the first, and the third at least 2 more (the goroutine's closure and channel)", none, inPlace, inGoroutine)
	}
	// In place, the call never asks for Done (which makes the core's
	// contexts set up a timer).
	dc := &doneCounter{Context: far}
	if _, _, err := s.Load(dc, key); err != nil || dc.n.Load() != 0 {
		t.Errorf("Load with a deadline an hour away: %v, %d calls of Done; want nil, 0", err, dc.n.Load())
	}

	client := gomemcache.New(testserver.Silent(t))
	client.Timeout = 100 * time.Millisecond
	silent, _ := memcachestore.New(client, memcachestore.Config{})
	start := time.Now()
	err := testserver.Within(t, 5*time.Second, "Load", func() error { _, _, err := silent.Load(far, newKey()); return err })
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load against a silent server with an hour's deadline = %v, want the client's timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Load against a silent server took %v with a 100ms client Timeout", d)
	}
}

// doneCounter counts the calls of its Done.
type doneCounter struct {
	context.Context
	n atomic.Int32
}

func (c *doneCounter) Done() <-chan struct{} {
	c.n.Add(1)
	return c.Context.Done()
}

func TestRecordsSpreadOverServers(t *testing.T) {
	ctx := context.Background()
	a, b := testserver.StartMemcached(t).Addr, testserver.StartMemcached(t).Addr
	s := newStore(t, newClient(a, b))
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = newKey()
		if err := s.Save(ctx, keys[i], []byte(keys[i]), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var total int64
	for _, addr := range []string{a, b} {
		n, err := testserver.MemcachedStat(addr, "curr_items")
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("server %s holds no records: keys are not spread over both servers", addr)
		}
		total += n
	}
	if total != int64(len(keys)) {
		t.Errorf("curr_items over both servers = %d, want %d", total, len(keys))
	}
	for _, k := range keys {
		rec, found, err := s.Load(ctx, k)
		if err != nil || !found || string(rec.Data) != k {
			t.Errorf("Load(%s...) = %v, %v, want the record found", k[:8], found, err)
		}
	}
}

// roundTripConn counts request/response exchanges: a write that follows a
// read (or starts the connection) begins a new round trip.
type roundTripConn struct {
	net.Conn
	trips   *atomic.Int64
	reading atomic.Bool
}

func (c *roundTripConn) Write(p []byte) (int, error) {
	if c.reading.Swap(false) {
		c.trips.Add(1)
	}
	return c.Conn.Write(p)
}

func (c *roundTripConn) Read(p []byte) (int, error) {
	c.reading.Store(true)
	return c.Conn.Read(p)
}

func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	client := newClient(testserver.Memcached(t))
	var trips atomic.Int64
	client.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rc := &roundTripConn{Conn: c, trips: &trips}
		rc.reading.Store(true)
		return rc, nil
	}
	s := newStore(t, client)
	key := newKey()
	exp := time.Now().Add(time.Minute)
	var v uint64
	ops := []struct {
		name string
		want int64
		op   func() error
	}{
		{"Save", 1, func() error { return s.Save(ctx, key, bytes.Repeat([]byte{'x'}, 10000), exp) }},
		{"Load", 1, func() error { rec, _, err := s.Load(ctx, key); v = rec.Version; return err }},
		{"CompareAndSwap (of the version just loaded)", 1, func() error { var err error; v, err = s.CompareAndSwap(ctx, key, v, []byte("y"), exp); return err }},
		{"CompareAndSwap (of a version not loaded)", 2, func() error { var err error; v, err = s.CompareAndSwap(ctx, key, v, []byte("y2"), exp); return err }},
		{"Touch", 2, func() error { return s.Touch(ctx, key, exp.Add(time.Minute)) }},
		{"Delete", 1, func() error { return s.Delete(ctx, key) }},
		{"CompareAndSwap(version 0)", 1, func() error { _, err := s.CompareAndSwap(ctx, key, 0, []byte("z"), exp); return err }},
	}
	for _, o := range ops {
		before := trips.Load()
		if err := o.op(); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if got := trips.Load() - before; got != o.want {
			t.Errorf("%s made %d round trips, want %d", o.name, got, o.want)
		}
	}
}

// TestServerDownAndBack stops the server under a live store: calls fail
// promptly, and the same store works again once the server is back.
func TestServerDownAndBack(t *testing.T) {
	srv := testserver.StartMemcached(t)
	testserver.CheckDownAndBack(t, srv, newStore(t, newClient(srv.Addr)))
}

// countingClient returns a client on addr whose round trips are counted.
func countingClient(addr string, trips *atomic.Int64) *gomemcache.Client {
	client := newClient(addr)
	client.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rc := &roundTripConn{Conn: c, trips: trips}
		rc.reading.Store(true)
		return rc, nil
	}
	return client
}

// TestTouchUnderContention touches a record while 16 writers rewrite it
// with compare-and-swap, as concurrent requests through the core do. A
// Touch that loses to a writer found the record just rewritten (and so
// extended): it must return nil or an error wrapping core.ErrConflict,
// never another error, and must not keep retrying (at most its two round
// trips).
func TestTouchUnderContention(t *testing.T) {
	ctx := t.Context()
	addr := testserver.Memcached(t)
	prefix := uniquePrefix()
	var trips atomic.Int64
	toucher, err := memcachestore.New(countingClient(addr, &trips), memcachestore.Config{KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	writer, err := memcachestore.New(newClient(addr), memcachestore.Config{KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	key := newKey()
	if _, err := writer.CompareAndSwap(ctx, key, 0, []byte("0"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	const writers = 16
	wctx, stop := context.WithCancel(ctx)
	defer stop() // the writers stop on every way out of the test, t.Fatal included
	var writes, writeErrs atomic.Int64
	done := make(chan struct{}, writers) // never blocks a writer nobody waits for
	for range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			for wctx.Err() == nil {
				rec, _, err := writer.Load(wctx, key)
				if err == nil {
					_, err = writer.CompareAndSwap(wctx, key, rec.Version, []byte(fmt.Sprint(writes.Load())), time.Now().Add(time.Hour))
				}
				switch {
				case err == nil:
					writes.Add(1)
				case !errors.Is(err, core.ErrConflict) && wctx.Err() == nil:
					writeErrs.Add(1)
				}
			}
		}()
	}
	calls := 200
	if testing.Short() {
		calls = 50
	}
	var conflicts, others int
	for i := range calls {
		before := trips.Load()
		err := toucher.Touch(ctx, key, time.Now().Add(2*time.Hour))
		switch {
		case errors.Is(err, core.ErrConflict):
			conflicts++
		case err != nil:
			others++
			if others <= 3 {
				t.Errorf("Touch %d while %d writers rewrite the record = %v, want nil or an error wrapping core.ErrConflict", i, writers, err)
			}
		}
		if n := trips.Load() - before; n > 2 {
			t.Errorf("Touch %d made %d round trips, want at most 2: a lost race means the record was just rewritten, there is nothing to retry", i, n)
		}
	}
	stop()
	for range writers {
		<-done
	}
	t.Logf("%d touches: %d conflicts, %d other errors; %d writes, %d write errors", calls, conflicts, others, writes.Load(), writeErrs.Load())
	if writeErrs.Load() > 0 {
		t.Errorf("%d writes failed with an error other than core.ErrConflict", writeErrs.Load())
	}
	if _, found, err := writer.Load(ctx, key); err != nil || !found {
		t.Errorf("Load after the contention = %v, %v, want the record", found, err)
	}
}

// TestRequestRoundTrips counts the round trips of whole requests through
// the core: an update is a gets and a cas, the CAS id remembered from the
// load; a renew is a gets, then the successor's add and the old record's
// cas at once: two round trips, three commands. The counting dialer holds
// every answer back by 25 ms, as a server across a network would: what is
// in flight at once then does not depend on how the goroutines of a renew
// are scheduled next to a server that answers in microseconds (1 ms was
// not enough under make test's load: -race, three packages at once).
func TestRequestRoundTrips(t *testing.T) {
	c := roundtrip.Counter{Latency: 25 * time.Millisecond}
	client := newClient(testserver.Memcached(t))
	client.DialContext = c.Dial
	roundtrip.Check(t, newStore(t, client), c.Sequential, roundtrip.Floor)
	roundtrip.CheckCommands(t, newStore(t, client), c.Count, roundtrip.Counts{Untouched: 0, New: 1, Read: 1, Update: 2, Renew: 3})
}

// TestRememberedCASIDs checks the one-round-trip swap against the writes
// that can come between a Load and the swap: a Touch keeps the version (the
// swap must still succeed), a write by another store instance changes it
// (the swap must fail), and a deletion ends the record.
func TestRememberedCASIDs(t *testing.T) {
	ctx := context.Background()
	addr := testserver.Memcached(t)
	prefix := uniquePrefix()
	open := func() *memcachestore.Store {
		s, err := memcachestore.New(newClient(addr), memcachestore.Config{KeyPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s, other := open(), open()
	exp := time.Now().Add(time.Hour)
	load := func(key string) uint64 {
		t.Helper()
		rec, ok, err := s.Load(ctx, key)
		if err != nil || !ok {
			t.Fatalf("Load = %v, %v, %v, want the record", rec, ok, err)
		}
		return rec.Version
	}

	key := newKey()
	if _, err := s.CompareAndSwap(ctx, key, 0, []byte("a"), exp); err != nil {
		t.Fatal(err)
	}
	v := load(key)
	if err := other.Touch(ctx, key, exp.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	v2, err := s.CompareAndSwap(ctx, key, v, []byte("b"), exp)
	if err != nil {
		t.Fatalf("CompareAndSwap of the loaded version after another store's Touch = %v, want success (Touch keeps the version)", err)
	}

	if load(key) != v2 {
		t.Fatal("Load after CompareAndSwap does not report its version")
	}
	if _, err := other.CompareAndSwap(ctx, key, v2, []byte("c"), exp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, key, v2, []byte("d"), exp); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("CompareAndSwap of a version another store replaced = %v, want core.ErrConflict", err)
	}
	if rec, _, _ := s.Load(ctx, key); string(rec.Data) != "c" {
		t.Fatalf("Load = %q, want the other store's write %q", rec.Data, "c")
	}

	v = load(key)
	if err := other.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, key, v, []byte("e"), exp); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("CompareAndSwap of the loaded version after a Delete = %v, want core.ErrConflict", err)
	}
	if _, ok, _ := s.Load(ctx, key); ok {
		t.Fatal("a CompareAndSwap after a Delete re-created the record")
	}
}
