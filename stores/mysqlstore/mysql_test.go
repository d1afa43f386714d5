package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/roundtrip"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/internal/testserver"
)

// harness runs the shared SQL store tests on pools that edit configures.
func harness(edit func(*mysql.Config)) sqlstoretest.Harness {
	return sqlstoretest.Harness{
		New: func(t *testing.T, max int) (sqlstoretest.Store, *sql.DB) {
			db := newDB(t, dbOptions{edit: edit})
			return newStore(t, db, Config{MaxDataSize: max}), db
		},
		InsertSQL: func(s sqlstoretest.Store) string {
			return "INSERT INTO " + s.(*Store).TableName() + " (`key`, `data`, `expiry`, `version`) VALUES (?, ?, ?, ?)"
		},
		CountSQL:    func(s sqlstoretest.Store) string { return "SELECT COUNT(*) FROM " + s.(*Store).TableName() },
		MaxDataSize: MaxDataSize,
	}
}

// TestSQLStore runs the shared SQL store tests three times: with the driver's
// defaults (strict sql_mode, rows affected = rows changed) and with a
// non-strict sql_mode, which truncates oversized values silently, and
// clientFoundRows (rows affected = rows matched), so that neither setting
// of the caller's DSN changes the store's behaviour.
func TestSQLStore(t *testing.T) {
	t.Run("defaults", func(t *testing.T) { sqlstoretest.Run(t, harness(nil)) })
	t.Run("nonstrict_foundrows", func(t *testing.T) {
		sqlstoretest.Run(t, harness(func(c *mysql.Config) {
			c.ClientFoundRows = true
			if c.Params == nil {
				c.Params = map[string]string{}
			}
			c.Params["sql_mode"] = "''"
		}))
	})
	// With maxAllowedPacket=0 the driver learns the server's limit and
	// sends a record of MaxDataSize in pieces: it must round trip.
	t.Run("maxallowedpacket0", func(t *testing.T) {
		sqlstoretest.Run(t, harness(func(c *mysql.Config) { c.MaxAllowedPacket = 0 }))
	})
}

func TestOneRoundTripPerOperation(t *testing.T) {
	for _, foundRows := range []bool{false, true} {
		c := &commandCounter{}
		db := newDB(t, dbOptions{maxConns: 1, dial: c.dial, edit: func(cfg *mysql.Config) { cfg.ClientFoundRows = foundRows }})
		s := newStore(t, db, Config{})
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
					err = errNotFound
				}
				version = rec.Version
				return err
			}},
			{"CompareAndSwap", func() error {
				var err error
				version, err = s.CompareAndSwap(ctx, key, version, []byte("y"), exp)
				return err
			}},
			{"CompareAndSwap(0)", func() error {
				_, err := s.CompareAndSwap(ctx, testKey(time.Now().String()), 0, []byte("y"), exp)
				return err
			}},
			{"Touch", func() error { return s.Touch(ctx, key, exp) }},
			{"Delete", func() error { return s.Delete(ctx, key) }},
		}
		// The first execution of each statement on a connection also
		// prepares it; after that, each operation is one round trip.
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
				t.Errorf("clientFoundRows=%v: %s took %d round trips, want 1", foundRows, op.name, n)
			}
		}
	}
}

func TestJanitor(t *testing.T) {
	db := newDB(t, dbOptions{})
	s := newStore(t, db, Config{CleanupInterval: 10 * time.Millisecond})
	h := harness(nil)
	h.Insert(t, s, db, "dead", 3, time.Now().Add(-10*time.Second), 1)
	deadline := time.Now().Add(5 * time.Second)
	for h.Count(t, s, db) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not remove expired rows within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !s.s.Janitor().Running() {
		t.Fatal("the janitor is not running before Close")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.s.Janitor().Running() {
		t.Error("Close returned before the janitor exited")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := db.Ping(); err != nil {
		t.Errorf("Close closed the caller's pool: %v", err)
	}
	// The store remains usable: it prepares its statements again.
	key := testKey("after close")
	if err := s.Save(context.Background(), key, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("Save after Close = %v", err)
	}
}

// TestCloseWhileInUse closes the store's statements while many goroutines
// use them: no operation may fail because of it.
func TestCloseWhileInUse(t *testing.T) {
	db := newDB(t, dbOptions{maxConns: 8})
	s := newStore(t, db, Config{})
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 8 {
		wg.Go(func() {
			key := testKey(string(rune('a' + g)))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.Save(ctx, key, []byte("x"), time.Now().Add(time.Hour)); err != nil {
					t.Errorf("Save during Close = %v", err)
					return
				}
				if _, _, err := s.Load(ctx, key); err != nil {
					t.Errorf("Load during Close = %v", err)
					return
				}
			}
		})
	}
	for range 20 {
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
}

// unreachableDB returns a pool whose server never answers usefully: either
// a closed port or a listener that accepts and then says nothing.
func unreachableDB(t *testing.T, silent bool) *sql.DB {
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
	return newDB(t, dbOptions{dsn: "root@tcp(" + addr + ")/test"})
}

func TestUnreachableServer(t *testing.T) {
	for _, silent := range []bool{false, true} {
		t.Run(map[bool]string{false: "closed port", true: "silent server"}[silent], func(t *testing.T) {
			s, err := New(unreachableDB(t, silent), Config{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err = testserver.Within(t, 5*time.Second, "Load", func() error { _, _, err := s.Load(ctx, testKey("a")); return err })
			if err == nil || !strings.HasPrefix(err.Error(), "sessionkit: mysql: load: ") {
				t.Errorf("Load on an unreachable server = %v, want a wrapped error", err)
			}
			if silent && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Load on a silent server = %v, want an error wrapping context.DeadlineExceeded", err)
			}
		})
	}
}

// TestServerKilledAndPaused puts a proxy between the store and the server,
// makes the server look dead (connections closed, new ones dropped) and
// then hung (nothing forwarded), and checks that every operation fails
// within its deadline and that the same store works again once the server
// is back, without being rebuilt.
func TestServerKilledAndPaused(t *testing.T) {
	dsn := testDSN(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Net != "tcp" {
		t.Skipf("the test server is not on TCP (%s), so no proxy can stand in front of it", cfg.Net)
	}
	proxy := testserver.NewProxy(t, cfg.Addr)
	db := newDB(t, dbOptions{maxConns: 4, edit: func(c *mysql.Config) { c.Addr = proxy.Addr }})
	s := newStore(t, db, Config{})
	ctx := context.Background()
	key := testKey("a")
	exp := time.Now().Add(time.Hour)
	if err := s.Save(ctx, key, []byte("before"), exp); err != nil {
		t.Fatal(err)
	}
	for _, fault := range []struct {
		name  string
		apply func()
	}{{"killed", proxy.Kill}, {"paused", proxy.Hold}} {
		fault.apply()
		dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		ops := map[string]func() error{
			"Load":           func() error { _, _, err := s.Load(dctx, key); return err },
			"Save":           func() error { return s.Save(dctx, key, []byte("during"), exp) },
			"CompareAndSwap": func() error { _, err := s.CompareAndSwap(dctx, key, 1, []byte("during"), exp); return err },
			"Touch":          func() error { return s.Touch(dctx, key, exp) },
		}
		for name, op := range ops {
			err := testserver.Within(t, 10*time.Second, name+" with the server "+fault.name, op)
			if err == nil || !strings.HasPrefix(err.Error(), "sessionkit: mysql: ") {
				t.Errorf("%s with the server %s = %v, want a wrapped error", name, fault.name, err)
			}
		}
		cancel()
		proxy.Release()
		// A write the held proxy delivers on release may still take
		// effect after the next one (the package documents that a write
		// already sent may): the store must come back within a few
		// tries, each a Save and a Load that reads it.
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var (
			rec     core.Record
			ok      bool
			saveErr error
		)
		for try := 0; try < 5; try++ {
			time.Sleep(time.Duration(try) * 100 * time.Millisecond)
			if saveErr = s.Save(rctx, key, []byte("after "+fault.name), exp); saveErr != nil {
				continue
			}
			if rec, ok, err = s.Load(rctx, key); err == nil && ok && string(rec.Data) == "after "+fault.name {
				break
			}
		}
		if saveErr != nil {
			t.Errorf("Save after the server was %s and came back = %v", fault.name, saveErr)
		}
		if err != nil || !ok || string(rec.Data) != "after "+fault.name {
			t.Errorf("Load after the server was %s and came back = %q, %v, %v", fault.name, rec.Data, ok, err)
		}
		cancel()
	}
}

func TestConfig(t *testing.T) {
	db := newDB(t, dbOptions{})
	valid := map[string]string{
		"":                      "`sessionkit_sessions`",
		"Sessions":              "`Sessions`",
		"auth.sessions":         "`auth`.`sessions`",
		"_x1":                   "`_x1`",
		strings.Repeat("a", 64): "`" + strings.Repeat("a", 64) + "`",
	}
	for name, quoted := range valid {
		s, err := New(db, Config{TableName: name})
		if err != nil {
			t.Errorf("New(TableName %q) = %v", name, err)
			continue
		}
		if s.TableName() != quoted {
			t.Errorf("New(TableName %q).TableName() = %s, want %s", name, s.TableName(), quoted)
		}
		if sql := Schema(name); !strings.HasPrefix(sql, "CREATE TABLE IF NOT EXISTS "+quoted+" (") {
			t.Errorf("Schema(%q) = %s", name, sql)
		}
	}
	for _, name := range []string{"a;drop table x", "x`y", "1abc", "a.b.c", "a.", ".a", "a b", strings.Repeat("a", 65), "db." + strings.Repeat("a", 65)} {
		if _, err := New(db, Config{TableName: name}); err == nil {
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
	for _, cfg := range []Config{{CleanupInterval: -1}, {MaxDataSize: -1}, {MaxDataSize: MaxDataSize + 1}} {
		if _, err := New(db, cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New(nil db) = nil error")
	}
}

func TestCreateTableIdempotentAndDatabaseQualified(t *testing.T) {
	db := newDB(t, dbOptions{})
	ctx := context.Background()
	var database string
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil || database == "" {
		t.Fatalf("SELECT DATABASE() = %q, %v", database, err)
	}
	name := uniqueTable(t)
	s, err := New(db, Config{TableName: database + "." + name})
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
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.statistics
WHERE table_schema = ? AND table_name = ? AND column_name = 'expiry'`, database, name).Scan(&indexes)
	if err != nil || indexes != 1 {
		t.Errorf("expiry indexes on %s.%s = %d, %v; want 1", database, name, indexes, err)
	}
	key := testKey("a")
	if err := s.Save(ctx, key, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := loadData(t, s, key); got != "x" {
		t.Errorf("Load from a database-qualified table = %q", got)
	}
	if _, err := s.CompareAndSwap(ctx, key, 0, nil, time.Now().Add(time.Hour)); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(live, 0) = %v, want ErrConflict", err)
	}
}

// TestRequestRoundTrips counts the round trips of whole requests through
// the core, on the wire (one connection, so that every statement is
// prepared once in the warm-up).
func TestRequestRoundTrips(t *testing.T) {
	var c roundtrip.Counter
	db := newDB(t, dbOptions{maxConns: 1, dial: c.Dial})
	roundtrip.Check(t, newStore(t, db, Config{}), c.Count, roundtrip.Counts{Untouched: 0, New: 1, Read: 1, Update: 2, Renew: 2})
}
