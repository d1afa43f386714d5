package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/roundtrip"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/internal/testserver"
)

func TestSQLStore(t *testing.T) { sqlstoretest.Run(t, harness) }

func TestWALAndBusyTimeout(t *testing.T) {
	s := openStore(t, "", Config{BusyTimeout: 1234 * time.Millisecond})
	for name, db := range map[string]*sql.DB{"read": s.read, "write": s.write} {
		var mode string
		var busy int
		if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("%s pool: journal_mode = %q, %v; want wal", name, mode, err)
		}
		if err := db.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != int(busySlice.Milliseconds()) {
			t.Errorf("%s pool: busy_timeout = %d, %v; want %d (the store waits in slices)", name, busy, err, busySlice.Milliseconds())
		}
	}
	if n := s.write.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool allows %d connections, want 1", n)
	}
}

// TestManyGoroutines has many goroutines increment one counter through
// CompareAndSwap and save records of their own at once: no write may fail
// with "database is locked" and no increment may be lost.
func TestManyGoroutines(t *testing.T) {
	s := openStore(t, "", Config{})
	ctx := context.Background()
	goroutines, perG := 32, 25
	if testing.Short() {
		goroutines, perG = 8, 10
	}
	counter := testKey("counter")
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			own := testKey(fmt.Sprint("own", g))
			for i := range perG {
				if err := increment(ctx, s, counter); err != nil {
					t.Errorf("increment: %v", err)
					return
				}
				if err := s.Save(ctx, own, []byte(strconv.Itoa(i)), time.Now().Add(time.Hour)); err != nil {
					t.Errorf("Save: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	rec, _, err := s.Load(ctx, counter)
	if err != nil || len(rec.Data) != 8 || binary.BigEndian.Uint64(rec.Data) != uint64(goroutines*perG) {
		t.Errorf("counter = %x, %v; want %d", rec.Data, err, goroutines*perG)
	}
}

// increment adds one to the 8-byte counter under key, retrying conflicts.
func increment(ctx context.Context, s *Store, key string) error {
	for {
		rec, _, err := s.Load(ctx, key)
		if err != nil {
			return err
		}
		var n uint64
		if len(rec.Data) == 8 {
			n = binary.BigEndian.Uint64(rec.Data)
		}
		_, err = s.CompareAndSwap(ctx, key, rec.Version, binary.BigEndian.AppendUint64(nil, n+1), time.Now().Add(time.Hour))
		if !errors.Is(err, core.ErrConflict) {
			return err
		}
	}
}

// addEntry adds line to the newline-separated set under key through
// CompareAndSwap, retrying conflicts: the way the core merges a request's
// change into a session another process changed meanwhile.
func addEntry(ctx context.Context, s *Store, key, line string) error {
	for {
		rec, _, err := s.Load(ctx, key)
		if err != nil {
			return err
		}
		data := append(rec.Data, line+"\n"...)
		_, err = s.CompareAndSwap(ctx, key, rec.Version, data, time.Now().Add(time.Hour))
		if !errors.Is(err, core.ErrConflict) {
			return err
		}
	}
}

// childEnv, when set to "path name n", makes TestChildProcess a writer
// process: it adds n entries "name-i" to the shared record of the file at
// path (n < 0: until killed).
const childEnv = "SESSIONKIT_SQLITE_CHILD"

const sharedKeyName = "two processes"

func TestChildProcess(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("runs only as a child of TestTwoProcesses")
	}
	f := strings.Fields(spec)
	n, _ := strconv.Atoi(f[2])
	s := openStore(t, f[0], Config{})
	for i := 0; n < 0 || i < n; i++ {
		if err := addEntry(context.Background(), s, testKey(sharedKeyName), fmt.Sprintf("%s-%d", f[1], i)); err != nil {
			t.Fatalf("%s: entry %d: %v", f[1], i, err)
		}
	}
}

// TestTwoProcesses runs writer processes on one file, each adding its own
// entries to one session record through CompareAndSwap, while this process
// does the same and a third process is killed in the middle of its writes:
// every entry of the writers that finished must be there exactly once and
// the file must pass SQLite's integrity check.
func TestTwoProcesses(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("already a child")
	}
	n := 60
	if testing.Short() {
		n = 15
	}
	path := filepath.Join(t.TempDir(), "shared.db")
	s := openStore(t, path, Config{})
	// The children are killed when childLimit runs out, and when the test
	// ends on any path: the victim runs until killed.
	const childLimit = 5 * time.Minute
	childCtx, cancel := context.WithTimeout(context.Background(), childLimit)
	t.Cleanup(cancel)
	start := func(name string, n int) (*exec.Cmd, *strings.Builder) {
		cmd := exec.CommandContext(childCtx, os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.timeout="+childLimit.String())
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", childEnv, path, name, n))
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill() // an error when it has exited already
			_ = cmd.Wait()         // an error when it was waited for already
		})
		return cmd, out
	}
	a, aOut := start("a", n)
	b, bOut := start("b", n)
	victim, _ := start("victim", -1)
	ctx := context.Background()
	key := testKey(sharedKeyName)
	killed := false
	for i := range n {
		if err := addEntry(ctx, s, key, fmt.Sprintf("parent-%d", i)); err != nil {
			t.Fatal(err)
		}
		if rec, _, _ := s.Load(ctx, key); !killed && strings.Contains(string(rec.Data), "victim-3\n") {
			victim.Process.Kill() // in the middle of its writes
			killed = true
		}
	}
	for name, c := range map[string]struct {
		cmd *exec.Cmd
		out *strings.Builder
	}{"a": {a, aOut}, "b": {b, bOut}} {
		if err := c.cmd.Wait(); err != nil {
			if childCtx.Err() != nil {
				err = fmt.Errorf("%w (killed: the children's %v ran out)", err, childLimit)
			}
			t.Errorf("writer %s: %v\n%s", name, err, c.out)
		}
	}
	if !killed {
		victim.Process.Kill()
	}
	victim.Wait()
	rec, _, err := s.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(string(rec.Data), "\n"), "\n") {
		seen[line]++
	}
	for _, name := range []string{"a", "b", "parent"} {
		for i := range n {
			if e := fmt.Sprintf("%s-%d", name, i); seen[e] != 1 {
				t.Errorf("entry %s appears %d times, want once", e, seen[e])
			}
		}
	}
	var check string
	if err := s.read.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	if err := addEntry(ctx, s, key, "after"); err != nil {
		t.Errorf("write after the victim was killed: %v", err)
	}
}

// TestBusyWaitsForAnotherWriter holds the write lock from another
// connection (as another process would) and checks that a Save waits for
// it rather than failing with "database is locked".
func TestBusyWaitsForAnotherWriter(t *testing.T) {
	s := openStore(t, "", Config{})
	other := openStore(t, s.Path(), Config{})
	ctx := context.Background()
	conn, err := other.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Save(ctx, testKey("a"), []byte("x"), time.Now().Add(time.Hour)) }()
	time.Sleep(100 * time.Millisecond) // let the Save meet the lock
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Save while another connection held the write lock = %v, want it to wait", err)
	}
}

// TestBusyHonoursContextAndTimeout holds the write lock from another
// connection and checks that a Save gives up when its context ends (long
// before the 5-second busy timeout) and, without a deadline, when
// BusyTimeout has passed, with an error that says the database is locked.
func TestBusyHonoursContextAndTimeout(t *testing.T) {
	s := openStore(t, "", Config{})
	short := openStore(t, s.Path(), Config{BusyTimeout: 300 * time.Millisecond})
	other := openStore(t, s.Path(), Config{})
	ctx := context.Background()
	conn, err := other.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "ROLLBACK")
	exp := time.Now().Add(time.Hour)
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	// Not a speed check: the Save must end because of its deadline, not
	// after the 5-second busy timeout.
	err = testserver.Within(t, 3*time.Second, "Save with a deadline on a locked database", func() error {
		return s.Save(dctx, testKey("a"), []byte("x"), exp)
	})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "sessionkit: sqlite: save: ") {
		t.Errorf("Save with a deadline on a locked database = %v, want a wrapped error wrapping context.DeadlineExceeded", err)
	}
	err = testserver.Within(t, 4*time.Second, "Save on a locked database", func() error {
		return short.Save(ctx, testKey("a"), []byte("x"), exp)
	})
	if err == nil || !busy(err) || !strings.HasPrefix(err.Error(), "sessionkit: sqlite: save: ") {
		t.Errorf("Save on a database locked longer than BusyTimeout = %v, want a wrapped SQLITE_BUSY error", err)
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	key := testKey("a")
	if err := s.Save(ctx, key, []byte("kept"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, key, []byte("x"), time.Now().Add(time.Hour)); err == nil {
		t.Error("Save after Close = nil error")
	}
	s2 := openStore(t, path, Config{})
	if rec, ok, err := s2.Load(ctx, key); err != nil || !ok || string(rec.Data) != "kept" {
		t.Errorf("Load after reopening = %q, %v, %v; want %q", rec.Data, ok, err, "kept")
	}
}

func TestJanitor(t *testing.T) {
	s := openStore(t, "", Config{CleanupInterval: 10 * time.Millisecond})
	harness.Insert(t, s, s.write, "dead", 3, time.Now().Add(-10*time.Second), 1)
	deadline := time.Now().Add(5 * time.Second)
	for harness.Count(t, s, s.read) != 0 {
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
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	path := filepath.Join(dir, "c.db")
	for name, quoted := range map[string]string{"": `"sessionkit_sessions"`, "Sessions": `"Sessions"`, "_x1": `"_x1"`} {
		s := openStore(t, path, Config{TableName: name})
		if s.TableName() != quoted {
			t.Errorf("Open(TableName %q).TableName() = %s, want %s", name, s.TableName(), quoted)
		}
		if sql := Schema(name); !strings.Contains(sql, "CREATE TABLE IF NOT EXISTS "+quoted+" (") || !strings.Contains(sql, "ON "+quoted+" (expiry)") {
			t.Errorf("Schema(%q) = %s", name, sql)
		}
	}
	for _, name := range []string{"a;drop table x", `x"y`, "1abc", "a.b", "a b", strings.Repeat("a", 64)} {
		if _, err := Open(ctx, path, Config{TableName: name}); err == nil {
			t.Errorf("Open(TableName %q) = nil error, want an error", name)
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
	for _, p := range []string{"", ":memory:", "file:x.db", filepath.Join(dir, "a?b.db")} {
		if _, err := Open(ctx, p, Config{}); err == nil {
			t.Errorf("Open(%q) = nil error, want an error", p)
		}
	}
	for _, cfg := range []Config{{CleanupInterval: -1}, {BusyTimeout: -1}, {MaxReaders: -1}, {MaxDataSize: -1}, {MaxDataSize: MaxDataSizeLimit + 1}} {
		if _, err := Open(ctx, path, cfg); err == nil {
			t.Errorf("Open(%+v) = nil error", cfg)
		}
	}
	if _, err := Open(ctx, filepath.Join(dir, "missing", "x.db"), Config{}); err == nil || !strings.HasPrefix(err.Error(), "sessionkit: sqlite: open: ") {
		t.Errorf("Open in a missing directory = %v, want a wrapped error", err)
	}
}

// TestRequestCalls counts the store calls of whole requests through the
// core: in process, each call stands for a round trip. A renew is a load
// and one Renew.
func TestRequestCalls(t *testing.T) {
	c := roundtrip.NewRenewerCalls(openStore(t, "", Config{}))
	roundtrip.Check(t, c, c.Count, roundtrip.Counts{Untouched: 0, New: 1, Read: 1, Update: 2, Renew: 2})
}

// TestForeignColumnTypeIsCorrupt: SQLite's columns take a value of any
// type, so a row can hold a text expiry or version that the store never
// writes (another program's). Load reports such a row as a record it
// cannot read back (ErrCorrupt: the core treats it as no session and
// deletes it), not as a load error on every request that presents its
// cookie; Delete removes it.
func TestForeignColumnTypeIsCorrupt(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, "", Config{})
	for _, col := range []string{"expiry", "version"} {
		key := testKey("foreign-" + col)
		if err := s.Save(ctx, key, []byte("data"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.write.ExecContext(ctx, "UPDATE "+s.TableName()+" SET "+col+" = 'soon' WHERE key = ?", key); err != nil {
			t.Fatal(err)
		}
		if _, found, err := s.Load(ctx, key); !errors.Is(err, core.ErrCorrupt) || found {
			t.Errorf("Load of a row with a text %s = found %v, error %v; want ErrCorrupt", col, found, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("Delete of a row with a text %s: %v", col, err)
		}
		if _, found, err := s.Load(ctx, key); found || err != nil {
			t.Errorf("Load after Delete = found %v, error %v; want neither", found, err)
		}
	}
}
