package postgresstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/roundtrip"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/postgresstore/internal/pgtest"
)

// testKey returns a valid store key derived from name.
func testKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// counter is a pgx tracer that counts the statements sent to the server:
// queries and (implicit or explicit) prepares, one round trip each.
type counter struct{ queries, prepares atomic.Int64 }

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	return ctx
}
func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *counter) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	c.prepares.Add(1)
	return ctx
}
func (c *counter) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

// reset zeroes the counts and returns the previous total of round trips.
func (c *counter) reset() int64 { return c.queries.Swap(0) + c.prepares.Swap(0) }

// newPool connects a pool to the test server (skipping when there is none).
func newPool(t testing.TB, maxConns int32, tracer pgx.QueryTracer) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := pgtest.Postgres(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, dsn
}

// newStore returns a Store on a fresh table, created, on pool.
func newStore(t testing.TB, pool *pgxpool.Pool, dsn string, cfg Config) *Store {
	t.Helper()
	if cfg.TableName == "" {
		cfg.TableName = pgtest.PostgresTable(t, dsn)
	}
	s, err := New(pool, cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func loadData(t *testing.T, s *Store, key string) string {
	t.Helper()
	rec, ok, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if !ok {
		return "<none>"
	}
	return string(rec.Data)
}

func TestOneRoundTripPerOperation(t *testing.T) {
	c := &counter{}
	pool, dsn := newPool(t, 1, c) // one connection: every statement is prepared once
	s := newStore(t, pool, dsn, Config{})
	ctx := context.Background()
	key := testKey("a")
	exp := time.Now().Add(time.Hour)
	var version uint64
	ops := []struct {
		name string
		run  func() error
	}{
		{"Save", func() error { return s.Save(ctx, key, []byte("x"), exp) }},
		{"Load", func() error {
			rec, ok, err := s.Load(ctx, key)
			if err == nil && !ok {
				err = errors.New("not found")
			}
			version = rec.Version
			return err
		}},
		{"CompareAndSwap", func() error {
			var err error
			version, err = s.CompareAndSwap(ctx, key, version, []byte("y"), exp)
			return err
		}},
		{"Touch", func() error { return s.Touch(ctx, key, exp) }},
		{"Delete", func() error { return s.Delete(ctx, key) }},
	}
	// The first execution of each statement on a connection also prepares
	// it; after that, each operation must be exactly one round trip.
	for _, op := range ops {
		if err := op.run(); err != nil {
			t.Fatalf("warm-up %s = %v", op.name, err)
		}
	}
	c.reset()
	for _, op := range ops {
		if err := op.run(); err != nil {
			t.Fatalf("%s = %v", op.name, err)
		}
		if n := c.reset(); n != 1 {
			t.Errorf("%s took %d round trips, want 1", op.name, n)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	s := newStore(t, pool, dsn, Config{})
	ctx := context.Background()
	key := testKey("a")
	exp := time.Now().Add(time.Hour)
	data := []byte("hello")
	if err := s.Save(ctx, key, data, exp); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := s.Load(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if string(rec.Data) != "hello" || rec.Version == 0 || !rec.Expiry.Equal(exp.Truncate(time.Microsecond)) {
		t.Errorf("Load = {%q %v %d}, want {%q %v non-zero}", rec.Data, rec.Expiry, rec.Version, "hello", exp.Truncate(time.Microsecond))
	}
	if err := s.Save(ctx, key, nil, exp); err != nil {
		t.Fatalf("Save(nil data) = %v", err)
	}
	rec2, ok, err := s.Load(ctx, key)
	if err != nil || !ok || rec2.Data == nil || len(rec2.Data) != 0 {
		t.Errorf("Load after Save(nil) = %#v, %v, %v; want empty non-nil data", rec2.Data, ok, err)
	}
	if rec2.Version == rec.Version {
		t.Errorf("Save kept version %d", rec.Version)
	}
	if err := s.Save(ctx, key, []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Load after Save with past expiry = %q", got)
	}
}

func TestLoadIgnoresExpiredRows(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	s := newStore(t, pool, dsn, Config{})
	key := testKey("a")
	_, err := pool.Exec(context.Background(), "INSERT INTO "+s.TableName()+" VALUES ($1, 'old', now() - interval '1 second', 5)", key)
	if err != nil {
		t.Fatal(err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Load(expired row) = %q, want not found", got)
	}
	if err := s.Touch(context.Background(), key, time.Now().Add(time.Hour)); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Touch(expired row) = %v, want core.ErrNotFound", err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Touch revived an expired row: Load = %q", got)
	}
	if _, err := s.CompareAndSwap(context.Background(), key, 5, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(expired row's version) = %v, want ErrConflict", err)
	}
	v, err := s.CompareAndSwap(context.Background(), key, 0, []byte("new"), time.Now().Add(time.Hour))
	if err != nil || v == 0 {
		t.Errorf("CompareAndSwap(expired row, 0) = %d, %v; want a version", v, err)
	}
	if got := loadData(t, s, key); got != "new" {
		t.Errorf("Load = %q, want %q", got, "new")
	}
}

func TestCompareAndSwap(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	s := newStore(t, pool, dsn, Config{})
	ctx := context.Background()
	key := testKey("a")
	exp := time.Now().Add(time.Hour)
	cas := func(v uint64, data string, exp time.Time) (uint64, error) {
		return s.CompareAndSwap(ctx, key, v, []byte(data), exp)
	}
	for _, v := range []uint64{7, 1 << 63} {
		if _, err := cas(v, "x", exp); !errors.Is(err, core.ErrConflict) {
			t.Errorf("CompareAndSwap(missing, %d) = %v, want ErrConflict", v, err)
		}
	}
	v1, err := cas(0, "one", exp)
	if err != nil || v1 == 0 {
		t.Fatalf("CompareAndSwap(missing, 0) = %d, %v", v1, err)
	}
	if _, err := cas(0, "again", exp); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(live, 0) = %v, want ErrConflict", err)
	}
	v2, err := cas(v1, "two", exp)
	if err != nil || v2 == v1 || v2 == 0 {
		t.Fatalf("CompareAndSwap(v1) = %d, %v", v2, err)
	}
	if _, err := cas(v1, "stale", exp); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(stale) = %v, want ErrConflict", err)
	}
	if got := loadData(t, s, key); got != "two" {
		t.Errorf("Load = %q, want %q", got, "two")
	}
	past := time.Now().Add(-time.Second)
	if _, err := cas(0, "", past); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(live, 0, past expiry) = %v, want ErrConflict", err)
	}
	if _, err := cas(v1, "", past); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(stale, past expiry) = %v, want ErrConflict", err)
	}
	if v, err := cas(v2, "", past); err != nil || v == 0 {
		t.Errorf("CompareAndSwap(v2, past expiry) = %d, %v; want a version", v, err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Load after deleting CompareAndSwap = %q", got)
	}
	if v, err := cas(0, "", past); err != nil || v == 0 {
		t.Errorf("CompareAndSwap(missing, 0, past expiry) = %d, %v; want a version", v, err)
	}
	if _, err := cas(v2, "revive", exp); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(deleted) = %v, want ErrConflict", err)
	}
}

func TestTouch(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	s := newStore(t, pool, dsn, Config{})
	ctx := context.Background()
	key := testKey("a")
	if err := s.Save(ctx, key, []byte("data"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	before, _, _ := s.Load(ctx, key)
	later := time.Now().Add(time.Hour)
	if err := s.Touch(ctx, key, later); err != nil {
		t.Fatal(err)
	}
	after, _, _ := s.Load(ctx, key)
	if string(after.Data) != "data" || after.Version != before.Version || !after.Expiry.Equal(later.Truncate(time.Microsecond)) {
		t.Errorf("after Touch, Load = {%q %v %d}, want {%q %v %d}", after.Data, after.Expiry, after.Version, "data", later, before.Version)
	}
	missing := testKey("missing")
	if err := s.Touch(ctx, missing, later); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Touch(missing) = %v, want core.ErrNotFound", err)
	}
	if got := loadData(t, s, missing); got != "<none>" {
		t.Errorf("Touch created a row: %q", got)
	}
	if err := s.Touch(ctx, key, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("after Touch with past expiry, Load = %q", got)
	}
}

// insertRows inserts n rows directly, with keys sha256("prefix<i>") and the
// given expiry offset from now in seconds.
func insertRows(t *testing.T, pool *pgxpool.Pool, s *Store, prefix string, n int, offset int) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO `+s.TableName()+`
SELECT encode(sha256(convert_to($1 || i, 'UTF8')), 'hex'), 'x', now() + make_interval(secs => $2), 1
FROM generate_series(1, $3) AS i`, prefix, offset, n)
	if err != nil {
		t.Fatal(err)
	}
}

func TestIterate(t *testing.T) {
	pool, dsn := newPool(t, 1, nil) // one connection: fn's calls need it too
	s := newStore(t, pool, dsn, Config{})
	insertRows(t, pool, s, "live", 2*pageSize+7, 3600)
	insertRows(t, pool, s, "dead", 10, -10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	last := ""
	err := s.Iterate(ctx, func(key string) bool {
		if seen[key] || key <= last {
			t.Errorf("Iterate yielded %s out of order or twice", key)
		}
		seen[key], last = true, key
		if len(seen)%500 == 0 { // the store is usable from fn
			if _, _, err := s.Load(ctx, key); err != nil {
				t.Errorf("Load inside Iterate = %v", err)
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2*pageSize+7 {
		t.Errorf("Iterate yielded %d keys, want %d", len(seen), 2*pageSize+7)
	}
	for i := 1; i <= 10; i++ {
		if seen[testKey(fmt.Sprint("dead", i))] {
			t.Errorf("Iterate yielded expired key dead%d", i)
		}
	}
	if !seen[testKey("live1")] {
		t.Error("Iterate missed live1")
	}
	n := 0
	if err := s.Iterate(ctx, func(string) bool { n++; return n < 3 }); err != nil || n != 3 {
		t.Errorf("Iterate stopping after 3 called fn %d times (err %v)", n, err)
	}
}

func TestDeleteExpired(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	s := newStore(t, pool, dsn, Config{})
	insertRows(t, pool, s, "live", 5, 3600)
	insertRows(t, pool, s, "dead", pageSize+3, -10)
	n, err := s.DeleteExpired(context.Background())
	if err != nil || n != pageSize+3 {
		t.Fatalf("DeleteExpired = %d, %v; want %d, nil", n, err, pageSize+3)
	}
	var left int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+s.TableName()).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 5 {
		t.Errorf("%d rows left after DeleteExpired, want the 5 live ones", left)
	}
	if n, err := s.DeleteExpired(context.Background()); n != 0 || err != nil {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func TestJanitor(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	s := newStore(t, pool, dsn, Config{CleanupInterval: 10 * time.Millisecond})
	insertRows(t, pool, s, "dead", 3, -10)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left int
		if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+s.TableName()).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not remove expired rows within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !s.janitor.Running() {
		t.Fatal("the janitor is not running before Close")
	}
	s.Close()
	if s.janitor.Running() {
		t.Error("Close returned before the janitor exited")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := pool.Ping(context.Background()); err != nil {
		t.Errorf("Close closed the caller's pool: %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	s := newStore(t, pool, dsn, Config{})
	key := testKey("a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp := time.Now().Add(time.Hour)
	errs := map[string]error{
		"Save":        s.Save(ctx, key, []byte("y"), exp),
		"Delete":      s.Delete(ctx, key),
		"Touch":       s.Touch(ctx, key, exp),
		"Iterate":     s.Iterate(ctx, func(string) bool { return true }),
		"CreateTable": s.CreateTable(ctx),
	}
	_, errs["CompareAndSwap"] = s.CompareAndSwap(ctx, key, 0, nil, exp)
	_, _, errs["Load"] = s.Load(ctx, key)
	_, errs["DeleteExpired"] = s.DeleteExpired(ctx)
	for op, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s(cancelled ctx) = %v, want an error wrapping context.Canceled", op, err)
		}
	}
}

func TestInvalidKeysRejected(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	s := newStore(t, pool, dsn, Config{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for _, key := range []string{"", "../x", "' OR 1=1 --", strings.Repeat("A", 64), strings.Repeat("a", 63)} {
		errs := map[string]error{
			"Save":   s.Save(ctx, key, nil, exp),
			"Delete": s.Delete(ctx, key),
			"Touch":  s.Touch(ctx, key, exp),
		}
		_, errs["CompareAndSwap"] = s.CompareAndSwap(ctx, key, 0, nil, exp)
		_, _, errs["Load"] = s.Load(ctx, key)
		for op, err := range errs {
			if !errors.Is(err, core.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, key, err)
			}
		}
	}
}

// unreachable returns a pool whose server never answers usefully: either a
// closed port or a listener that accepts and then says nothing.
func unreachablePool(t *testing.T, silent bool) *pgxpool.Pool {
	var addr string
	if silent {
		addr = testserver.Silent(t)
	} else {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close() // a closed port: connections are refused
	}
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@"+addr+"/test?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestUnreachableServer(t *testing.T) {
	for _, silent := range []bool{false, true} {
		t.Run(map[bool]string{false: "closed port", true: "silent server"}[silent], func(t *testing.T) {
			s, err := New(unreachablePool(t, silent), Config{})
			if err != nil {
				t.Fatal(err)
			}
			const timeout = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			_, _, err = s.Load(ctx, testKey("a"))
			elapsed := time.Since(start)
			if err == nil || !strings.HasPrefix(err.Error(), "sessionkit: postgres: load: ") {
				t.Errorf("Load on an unreachable server = %v, want a wrapped error", err)
			}
			if silent && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Load on a silent server = %v, want an error wrapping context.DeadlineExceeded", err)
			}
			// Not a speed check: the call must end because of the
			// deadline, not hang on the network (generous margin).
			if elapsed > timeout+5*time.Second {
				t.Errorf("Load returned after %v, long after the %v deadline", elapsed, timeout)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	pool, _ := newPool(t, 0, nil)
	valid := map[string]string{
		"":                      `"sessionkit_sessions"`,
		"Sessions":              `"Sessions"`,
		"auth.sessions":         `"auth"."sessions"`,
		"_x1":                   `"_x1"`,
		strings.Repeat("a", 63): `"` + strings.Repeat("a", 63) + `"`,
	}
	for name, quoted := range valid {
		s, err := New(pool, Config{TableName: name})
		if err != nil {
			t.Errorf("New(TableName %q) = %v", name, err)
			continue
		}
		if s.TableName() != quoted {
			t.Errorf("New(TableName %q).TableName() = %s, want %s", name, s.TableName(), quoted)
		}
		if sql := Schema(name); !strings.Contains(sql, "CREATE TABLE IF NOT EXISTS "+quoted+" (") || !strings.Contains(sql, "ON "+quoted+" (expiry)") {
			t.Errorf("Schema(%q) = %s", name, sql)
		}
	}
	for _, name := range []string{"a;drop table x", `x"y`, "1abc", "a.b.c", "a.", ".a", "a b", strings.Repeat("a", 64), "sch." + strings.Repeat("a", 64)} {
		if _, err := New(pool, Config{TableName: name}); err == nil {
			t.Errorf("New(TableName %q) = nil error, want an error", name)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Schema(%q) did not panic", name)
				}
			}()
			Schema(name)
		}()
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New(nil pool) = nil error")
	}
	if _, err := New(pool, Config{CleanupInterval: -1}); err == nil {
		t.Error("New(negative CleanupInterval) = nil error")
	}
	if got := (table{strings.Repeat("b", 63)}).indexName(expirySuffix); len(got) != 63+2 {
		t.Errorf("index name for a 63-byte table = %s (%d bytes), want 63 bytes quoted", got, len(got))
	}
}

func TestCreateTableIdempotentAndSchemaQualified(t *testing.T) {
	pool, dsn := newPool(t, 0, nil)
	schema := pgtest.PostgresTable(t, dsn) // a unique name, used for a schema
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") })
	s, err := New(pool, Config{TableName: schema + ".sessions"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := s.CreateTable(ctx); err != nil {
				t.Errorf("concurrent CreateTable = %v", err)
			}
		})
	}
	wg.Wait()
	if err := s.CreateTable(ctx); err != nil {
		t.Errorf("CreateTable again = %v", err)
	}
	var indexes int
	err = pool.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 'sessions' AND indexdef LIKE '%(expiry)%'", schema).Scan(&indexes)
	if err != nil || indexes != 1 {
		t.Errorf("expiry indexes on %s.sessions = %d, %v; want 1", schema, indexes, err)
	}
	key := testKey("a")
	if err := s.Save(ctx, key, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := loadData(t, s, key); got != "x" {
		t.Errorf("Load from a schema-qualified table = %q", got)
	}
}

// TestRequestRoundTrips counts the round trips of whole requests through
// the core, on the wire (one connection, so that every statement is
// prepared once in the warm-up).
func TestRequestRoundTrips(t *testing.T) {
	var c roundtrip.Counter
	dsn := pgtest.Postgres(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	cfg.ConnConfig.DialFunc = c.Dial
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	roundtrip.Check(t, newStore(t, pool, dsn, Config{}), c.Count, roundtrip.Counts{Untouched: 0, New: 1, Read: 1, Update: 2, Renew: 2})
}
