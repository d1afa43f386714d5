package redisstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/roundtrip"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/redisstore"
)

// newKey returns a key shaped like the core's: hex SHA-256 of random bytes.
func newKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// uniquePrefix keeps tests apart on a shared server (SESSIONKIT_REDIS_ADDR).
func uniquePrefix() string {
	return "sessionkit-test:" + newKey()[:12] + ":"
}

// newClient returns a client with short timeouts so that a dead server
// fails requests promptly.
func newClient(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{
		Addr:                  addr,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            1,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// newStore returns a store with its own key prefix on client.
func newStore(t testing.TB, client goredis.UniversalClient) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(client, redisstore.Config{KeyPrefix: uniquePrefix()})
	if err != nil {
		t.Fatalf("redisstore.New: %v", err)
	}
	return s
}

func TestNewNilClient(t *testing.T) {
	if _, err := redisstore.New(nil, redisstore.Config{}); err == nil {
		t.Error("New(nil) error = nil, want an error")
	}
}

func TestDefaultKeyPrefix(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, testserver.Redis(t))
	s, err := redisstore.New(client, redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	key := newKey()
	if err := s.Save(ctx, key, []byte("x"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Delete(context.Background(), key) })
	n, err := client.Exists(ctx, "sessionkit:"+key).Result()
	if err != nil || n != 1 {
		t.Errorf("EXISTS sessionkit:<key> = %d, %v, want 1 (default prefix %q)", n, err, redisstore.DefaultKeyPrefix)
	}
	pttl, err := client.PTTL(ctx, "sessionkit:"+key).Result()
	if err != nil || pttl <= 55*time.Second || pttl > time.Minute {
		t.Errorf("PTTL = %v, %v, want about one minute: the server must drop the record at its expiry", pttl, err)
	}
}

func TestRoundTripAndExpiry(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newClient(t, testserver.Redis(t)))
	key := newKey()
	exp := time.Now().Add(time.Hour).Add(123456789 * time.Nanosecond)
	if err := s.Save(ctx, key, []byte("hello"), exp); err != nil {
		t.Fatal(err)
	}
	rec, found, err := s.Load(ctx, key)
	if err != nil || !found {
		t.Fatalf("Load = %v, %v, want found", found, err)
	}
	if string(rec.Data) != "hello" || !rec.Expiry.Equal(exp) || rec.Version == 0 {
		t.Errorf("Load = %q, %v, version %d; want %q, %v exactly, non-zero version", rec.Data, rec.Expiry, rec.Version, "hello", exp)
	}
	if err := s.Save(ctx, key, []byte("gone"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Load(ctx, key); found || err != nil {
		t.Errorf("Load after Save with a past expiry = %v, %v, want not found", found, err)
	}
}

func TestTouchKeepsDataAndVersion(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, testserver.Redis(t))
	s := newStore(t, client)
	key := newKey()
	v1, err := s.CompareAndSwap(ctx, key, 0, []byte("data"), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(2 * time.Hour)
	if err := s.Touch(ctx, key, exp); err != nil {
		t.Fatal(err)
	}
	rec, found, err := s.Load(ctx, key)
	if err != nil || !found || string(rec.Data) != "data" || rec.Version != v1 || !rec.Expiry.Equal(exp) {
		t.Fatalf("Load after Touch = %q v%d %v, %v, %v; want %q v%d %v", rec.Data, rec.Version, rec.Expiry, found, err, "data", v1, exp)
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
		t.Error("Load after Touch with a past expiry found the record, want it deleted")
	}
}

func TestInvalidKeys(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newClient(t, testserver.Redis(t)))
	for _, key := range []string{"", "../../etc/passwd", "*", newKey()[:63], newKey() + "0"} {
		if _, _, err := s.Load(ctx, key); !errors.Is(err, core.ErrInvalidKey) {
			t.Errorf("Load(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Save(ctx, key, nil, time.Now().Add(time.Minute)); !errors.Is(err, core.ErrInvalidKey) {
			t.Errorf("Save(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
}

func TestForeignValueIsCorrupt(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, testserver.Redis(t))
	// A prefix we know, to plant a value the store did not write.
	prefix := uniquePrefix()
	s, _ := redisstore.New(client, redisstore.Config{KeyPrefix: prefix})
	key := newKey()
	client.Set(ctx, prefix+key, "short", time.Minute)
	if _, _, err := s.Load(ctx, key); !errors.Is(err, core.ErrCorrupt) {
		t.Errorf("Load of a foreign value error = %v, want ErrCorrupt", err)
	}
}

func TestIterateEscapesPrefix(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, testserver.Redis(t))
	base := uniquePrefix()
	glob, _ := redisstore.New(client, redisstore.Config{KeyPrefix: base + "a*["})
	other, _ := redisstore.New(client, redisstore.Config{KeyPrefix: base + "ab["})
	k1, k2 := newKey(), newKey()
	glob.Save(ctx, k1, []byte("1"), time.Now().Add(time.Minute))
	other.Save(ctx, k2, []byte("2"), time.Now().Add(time.Minute))
	client.Set(ctx, base+"a*[not-a-session-key", "x", time.Minute)
	var got []string
	if err := glob.Iterate(ctx, func(k string) bool { got = append(got, k); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != k1 {
		t.Errorf("Iterate with prefix %q = %q, want only [%s]: the prefix must be matched literally", base+"a*[", got, k1)
	}
}

// countingHook counts the requests a client sends to the server: one per
// processed command and one per pipeline. It also records the names of
// the processed commands.
type countingHook struct {
	n     atomic.Int64
	mu    sync.Mutex
	names []string
}

func (h *countingHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *countingHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n.Add(1)
		h.mu.Lock()
		h.names = append(h.names, cmd.Name())
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

// take returns the names of the commands processed since the last call.
func (h *countingHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := h.names
	h.names = nil
	return names
}

func (h *countingHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func TestOneRoundTripPerOperation(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, testserver.Redis(t))
	hook := &countingHook{}
	client.AddHook(hook)
	s := newStore(t, client)
	key := newKey()
	exp := time.Now().Add(time.Minute)
	// Warm up: the first run of each script may need EVAL after EVALSHA.
	// (Save runs casScript, which CompareAndSwap shares.)
	s.Save(ctx, key, []byte("w"), exp)
	s.Touch(ctx, key, exp)
	s.Delete(ctx, key)
	var v uint64 // the version Load reads, for CompareAndSwap

	ops := []struct {
		name string
		op   func() error
	}{
		{"Save", func() error { return s.Save(ctx, key, []byte("x"), exp) }},
		{"Load", func() error {
			rec, _, err := s.Load(ctx, key)
			v = rec.Version
			return err
		}},
		{"Touch", func() error { return s.Touch(ctx, key, exp.Add(time.Minute)) }},
		{"CompareAndSwap", func() error { _, err := s.CompareAndSwap(ctx, key, v, []byte("y"), exp); return err }},
		{"Delete", func() error { return s.Delete(ctx, key) }},
	}
	for _, o := range ops {
		before := hook.n.Load()
		if err := o.op(); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if got := hook.n.Load() - before; got != 1 {
			t.Errorf("%s made %d round trips, want 1", o.name, got)
		}
	}
}

// TestContextDeadlineBeatsHungServer uses a listener that accepts and never
// answers: with ContextTimeoutEnabled the call ends at the context deadline.
func TestContextDeadlineBeatsHungServer(t *testing.T) {
	client := goredis.NewClient(&goredis.Options{
		Addr:                  testserver.Silent(t),
		ReadTimeout:           10 * time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
	})
	defer client.Close()
	s, _ := redisstore.New(client, redisstore.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := testserver.Within(t, 5*time.Second, "Load", func() error { _, _, err := s.Load(ctx, newKey()); return err })
	if err == nil {
		t.Error("Load against a silent server = nil error, want a timeout")
	}
}

// TestServerDownAndBack stops the server under a live store: calls fail
// promptly, and the same store works again once the server is back.
func TestServerDownAndBack(t *testing.T) {
	srv := testserver.StartRedis(t)
	testserver.CheckDownAndBack(t, srv, newStore(t, newClient(t, srv.Addr)))
}

// TestRequestRoundTrips counts the round trips of whole requests through
// the core, on the wire.
func TestRequestRoundTrips(t *testing.T) {
	var c roundtrip.Counter
	client := goredis.NewClient(&goredis.Options{Addr: testserver.Redis(t), Dialer: c.Dial, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	roundtrip.Check(t, newStore(t, client), c.Count, roundtrip.Counts{Untouched: 0, New: 1, Read: 1, Update: 2, Renew: 2})
}

// TestUpdateAllocations pins the allocations of an update's store calls
// (Load, then CompareAndSwap of the loaded version): go-redis's own per
// command (its command, 1, and the connection health check, 3: SyscallConn
// and the closure of its peek) plus the loaded value and the caller's copy
// of its data. The store's keys, script arguments and argument lists come
// from reused buffers.
func TestUpdateAllocations(t *testing.T) {
	s := newStore(t, newClient(t, testserver.Redis(t)))
	ctx := context.Background()
	key := newKey()
	data := make([]byte, 512)
	exp := time.Now().Add(time.Hour)
	if _, err := s.CompareAndSwap(ctx, key, 0, data, exp); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		rec, ok, err := s.Load(ctx, key)
		if err != nil || !ok {
			t.Fatalf("Load = %v, %v", ok, err)
		}
		if _, err := s.CompareAndSwap(ctx, key, rec.Version, rec.Data, exp); err != nil {
			t.Fatal(err)
		}
	})
	limit := 10.0
	if raceEnabled {
		limit = 20 // sync.Pool drops buffers at random under the race detector
	}
	if allocs > limit {
		t.Errorf("Load + CompareAndSwap: %.1f allocations, want at most %.0f", allocs, limit)
	}
}

// TestCreateIsOnePlainSet: a CompareAndSwap of version zero on a key that
// does not exist (a new session's) is one SET NX, not a script, and
// writes the same record casScript would (Load, Touch and a
// CompareAndSwap at its version work on it); on a key that exists it
// falls back to casScript, which reports the conflict; an expiry that is
// not in the future goes to the script at once.
func TestCreateIsOnePlainSet(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, testserver.Redis(t))
	hook := &countingHook{}
	client.AddHook(hook)
	prefix := uniquePrefix()
	s, err := redisstore.New(client, redisstore.Config{KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	key := newKey()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)

	v, err := s.CompareAndSwap(ctx, key, 0, []byte("first"), exp)
	if got := hook.take(); err != nil || !slices.Equal(got, []string{"set"}) {
		t.Fatalf("CompareAndSwap(0) of a new key = %v, sent %v; want one set", err, got)
	}
	rec, found, err := s.Load(ctx, key)
	if err != nil || !found || string(rec.Data) != "first" || rec.Version != v || !rec.Expiry.Equal(exp) {
		t.Fatalf("Load = %q v%d %v, %v, %v; want %q v%d %v", rec.Data, rec.Version, rec.Expiry, found, err, "first", v, exp)
	}
	if ttl := client.PTTL(ctx, prefix+key).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("the record's TTL in Redis is %v, want about an hour", ttl)
	}
	if err := s.Touch(ctx, key, exp.Add(time.Minute)); err != nil {
		t.Fatalf("Touch of the created record = %v", err)
	}
	hook.take()

	if _, err := s.CompareAndSwap(ctx, key, 0, []byte("second"), exp); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("CompareAndSwap(0) of a live key = %v, want ErrConflict", err)
	}
	if got := hook.take(); !slices.Equal(got, []string{"set", "evalsha"}) {
		t.Fatalf("CompareAndSwap(0) of a live key sent %v, want set, then evalsha", got)
	}
	if _, err := s.CompareAndSwap(ctx, key, v, []byte("third"), exp); err != nil {
		t.Fatalf("CompareAndSwap at the created record's version = %v", err)
	}

	gone := newKey()
	if _, err := s.CompareAndSwap(ctx, gone, 0, []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("CompareAndSwap(0) with a past expiry = %v", err)
	}
	if got := hook.take(); slices.Contains(got, "set") {
		t.Fatalf("CompareAndSwap(0) with a past expiry sent %v, want no set", got)
	}
	if _, found, _ := s.Load(ctx, gone); found {
		t.Fatal("CompareAndSwap(0) with a past expiry stored a record")
	}
}
