package file

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// testKey returns a valid store key derived from name.
func testKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// boundedContext returns a context that ends after d, or with the test,
// for tests whose goroutines or processes wait on each other's locks: a
// lock-order bug or a lost unlock then fails the test with the context's
// error instead of hanging it until go test's timeout.
func boundedContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// childCommand returns the command that runs this test binary's test
// named run in a child process, killed after 5 minutes (and told so with
// -test.timeout), so that a child stuck on a lock fails the test instead
// of hanging it. args are more flags for the child.
func childCommand(t testing.TB, run string, args ...string) *exec.Cmd {
	ctx := boundedContext(t, 5*time.Minute)
	return exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^" + run + "$", "-test.count=1", "-test.timeout=5m"}, args...)...)
}

// newStore returns a Store on a fresh directory (or dir, when given).
func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustSave(t *testing.T, s *Store, key string, data string, expiry time.Time) {
	t.Helper()
	if err := s.Save(context.Background(), key, []byte(data), expiry); err != nil {
		t.Fatalf("Save(%q) = %v", data, err)
	}
}

// loadData loads key and returns its data, or "<none>" when not found.
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

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSaveLoad(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	key := testKey("a")
	exp := time.Now().Add(time.Hour)
	data := []byte("hello")
	if err := s.Save(ctx, key, data, exp); err != nil {
		t.Fatal(err)
	}
	data[0] = 'X' // the store must not alias the caller's slice
	rec, ok, err := s.Load(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v, want found", ok, err)
	}
	if string(rec.Data) != "hello" {
		t.Errorf("Load().Data = %q, want %q", rec.Data, "hello")
	}
	if !rec.Expiry.Equal(exp.Round(0)) {
		t.Errorf("Load().Expiry = %v, want %v", rec.Expiry, exp)
	}
	if rec.Version == 0 {
		t.Error("Load().Version = 0, want non-zero")
	}
	rec.Data[0] = 'Y' // the caller owns the returned slice
	if got := loadData(t, s, key); got != "hello" {
		t.Errorf("after modifying a loaded slice, Load = %q, want %q", got, "hello")
	}
	mustSave(t, s, key, "", exp)
	rec2, ok, err := s.Load(ctx, key)
	if err != nil || !ok || len(rec2.Data) != 0 {
		t.Errorf("Load after saving empty data = %q, %v, %v; want empty, true, nil", rec2.Data, ok, err)
	}
	if rec2.Version == rec.Version {
		t.Errorf("Save kept version %d, want a new one", rec.Version)
	}
	if got, want := dirNames(t, s.Dir()), []string{"sess-" + key, "sess-" + key + ".lock"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

func TestLoadMissingAndExpired(t *testing.T) {
	s := newStore(t, Config{})
	if got := loadData(t, s, testKey("missing")); got != "<none>" {
		t.Errorf("Load(missing) = %q, want not found", got)
	}
	key := testKey("short")
	// A second: a save and a load finish within it on a loaded machine.
	exp := time.Now().Add(time.Second)
	mustSave(t, s, key, "x", exp)
	if got := loadData(t, s, key); got != "x" {
		t.Fatalf("Load before expiry = %q, want %q", got, "x")
	}
	time.Sleep(time.Until(exp) + 20*time.Millisecond)
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Load after expiry = %q, want not found", got)
	}
}

func TestSavePastExpiryDeletes(t *testing.T) {
	s := newStore(t, Config{})
	key := testKey("a")
	mustSave(t, s, key, "x", time.Now().Add(time.Hour))
	mustSave(t, s, key, "y", time.Now().Add(-time.Second))
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Load after Save with past expiry = %q, want not found", got)
	}
	if names := dirNames(t, s.Dir()); len(names) != 0 {
		t.Errorf("directory holds %v after a deleting Save, want nothing", names)
	}
	mustSave(t, s, key, "z", time.Time{})
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Load after Save with zero expiry = %q, want not found", got)
	}
}

func TestFarFutureExpiryRoundsDown(t *testing.T) {
	s := newStore(t, Config{})
	key := testKey("a")
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	mustSave(t, s, key, "x", far)
	rec, ok, err := s.Load(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if rec.Expiry.After(far) || rec.Expiry.Before(time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Load().Expiry = %v, want the latest representable time, not after %v", rec.Expiry, far)
	}
}

func TestInvalidKeysRejected(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "sessions")
	s := newStore(t, Config{Dir: dir})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	bad := []string{
		"", "../x", "../../etc/passwd", "/etc/passwd", "a/b",
		strings.Repeat("a", 63), strings.Repeat("a", 65), strings.Repeat("A", 64),
		"../" + strings.Repeat("a", 61), strings.Repeat("a", 63) + "\x00",
	}
	for _, key := range bad {
		ops := map[string]error{
			"Save":   s.Save(ctx, key, []byte("x"), exp),
			"Delete": s.Delete(ctx, key),
			"Touch":  s.Touch(ctx, key, exp),
		}
		_, ops["CompareAndSwap"] = s.CompareAndSwap(ctx, key, 0, []byte("x"), exp)
		_, _, ops["Load"] = s.Load(ctx, key)
		for op, err := range ops {
			if !errors.Is(err, core.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want an error wrapping core.ErrInvalidKey", op, key, err)
			}
		}
	}
	if names := dirNames(t, parent); fmt.Sprint(names) != "[sessions]" {
		t.Errorf("parent directory holds %v, want only [sessions]", names)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("store directory holds %v, want nothing", names)
	}
}

func TestCorruptRecords(t *testing.T) {
	key := testKey("a")
	valid := func(t *testing.T, s *Store) []byte {
		mustSave(t, s, key, "payload", time.Now().Add(time.Hour))
		b, err := os.ReadFile(s.recordPath(key))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		mangle func(b []byte) []byte
		// dataOnly: the header is intact, so DeleteExpired (which reads
		// headers only) leaves the record until it expires.
		dataOnly bool
	}{
		{"empty", func(b []byte) []byte { return nil }, false},
		{"short header", func(b []byte) []byte { return b[:headerSize-1] }, false},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, false},
		{"unknown format", func(b []byte) []byte { b[4] = 9; return b }, false},
		{"zero version", func(b []byte) []byte { clear(b[offVersion : offVersion+8]); return b }, false},
		{"truncated data", func(b []byte) []byte { return b[:len(b)-1] }, true},
		{"extra data", func(b []byte) []byte { return append(b, 'x') }, true},
		{"flipped data bit", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, Config{})
			b := tt.mangle(valid(t, s))
			if err := os.WriteFile(s.recordPath(key), b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, ok, err := s.Load(context.Background(), key)
			if !errors.Is(err, core.ErrCorrupt) || ok {
				t.Errorf("Load(corrupt record) = %v, %v; want not found and an error wrapping core.ErrCorrupt", ok, err)
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("Load error %q contains the store key", err)
			}
			if _, err := s.CompareAndSwap(context.Background(), key, 1, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, core.ErrConflict) {
				t.Errorf("CompareAndSwap(corrupt record, version 1) = %v, want core.ErrConflict", err)
			}
			n, err := s.DeleteExpired(context.Background())
			if err != nil || n != 0 {
				t.Errorf("DeleteExpired = %d, %v; want 0 (corrupt records are removed but not counted), nil", n, err)
			}
			want := 0
			if tt.dataOnly {
				want = 2 // the record and its lock file
			}
			if names := dirNames(t, s.Dir()); len(names) != want {
				t.Errorf("after DeleteExpired the directory holds %v, want %d files", names, want)
			}
		})
	}
}

func TestCompareAndSwapHealsCorruptRecord(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mangle func(t *testing.T, s *Store, key string)
	}{
		{"garbage", func(t *testing.T, s *Store, key string) {
			if err := os.WriteFile(s.recordPath(key), []byte("garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		// The header intact, the data failing its checksum: Load reports
		// it corrupt, so a version 0 write must not conflict with it.
		{"flipped data bit", func(t *testing.T, s *Store, key string) {
			mustSave(t, s, key, "payload", time.Now().Add(time.Hour))
			b, err := os.ReadFile(s.recordPath(key))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-1] ^= 1
			if err := os.WriteFile(s.recordPath(key), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, Config{})
			key := testKey("a")
			tt.mangle(t, s, key)
			if _, _, err := s.Load(context.Background(), key); !errors.Is(err, core.ErrCorrupt) {
				t.Fatalf("Load(mangled record) = %v, want ErrCorrupt", err)
			}
			if _, err := s.CompareAndSwap(context.Background(), key, 0, []byte("new"), time.Now().Add(time.Hour)); err != nil {
				t.Fatalf("CompareAndSwap(version 0) over a corrupt record = %v, want nil", err)
			}
			if got := loadData(t, s, key); got != "new" {
				t.Errorf("Load = %q, want %q", got, "new")
			}
		})
	}
}

// failingWriter writes at most n bytes and then fails with err.
type failingWriter struct {
	w   io.Writer
	n   int
	err error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return f.w.Write(p)
	}
	k, _ := f.w.Write(p[:f.n])
	f.n = 0
	return k, f.err
}

func TestFailedWriteKeepsPreviousRecord(t *testing.T) {
	key := testKey("a")
	setup := func(t *testing.T) *Store {
		s := newStore(t, Config{Sync: true})
		mustSave(t, s, key, "old", time.Now().Add(time.Hour))
		return s
	}
	check := func(t *testing.T, s *Store, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("Save = %v, want an error wrapping %v", err, want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "sessionkit: file: save: ") {
			t.Errorf("Save error %q lacks the prefix %q", err, "sessionkit: file: save: ")
		}
		if err != nil && strings.Contains(err.Error(), key) {
			t.Errorf("Save error %q contains the store key", err)
		}
		if got := loadData(t, s, key); got != "old" {
			t.Errorf("after the failed Save, Load = %q, want the previous %q", got, "old")
		}
		for _, name := range dirNames(t, s.Dir()) {
			if strings.HasSuffix(name, ".tmp") {
				t.Errorf("failed Save left the temporary file %s", name)
			}
		}
	}

	t.Run("disk full", func(t *testing.T) {
		s := setup(t)
		s.writeHook = func(w io.Writer) io.Writer { return &failingWriter{w: w, n: 10, err: syscall.ENOSPC} }
		check(t, s, s.Save(context.Background(), key, bytes.Repeat([]byte("new"), 100), time.Now().Add(time.Hour)), syscall.ENOSPC)
		err := s.Touch(context.Background(), key, time.Now().Add(2*time.Hour))
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Touch = %v, want an error wrapping ENOSPC", err)
		}
		_, err = s.CompareAndSwap(context.Background(), key, 1, []byte("x"), time.Now().Add(time.Hour))
		if !errors.Is(err, core.ErrConflict) {
			t.Errorf("CompareAndSwap(wrong version) = %v, want ErrConflict", err)
		}
		check(t, s, nil, nil)
	})

	t.Run("read-only directory", func(t *testing.T) {
		s := setup(t)
		var want error = fs.ErrPermission
		if os.Geteuid() == 0 {
			// Permission bits do not stop root; fail the writes the way a
			// read-only file system would.
			s.writeHook = func(w io.Writer) io.Writer { return &failingWriter{w: w, err: syscall.EROFS} }
			want = syscall.EROFS
		} else {
			if err := os.Chmod(s.Dir(), 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(s.Dir(), 0o700) })
		}
		check(t, s, s.Save(context.Background(), key, []byte("new"), time.Now().Add(time.Hour)), want)
	})

	t.Run("rename target is a directory", func(t *testing.T) {
		s := newStore(t, Config{})
		if err := os.Mkdir(s.recordPath(key), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.recordPath(key), "x"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := s.Save(context.Background(), key, []byte("new"), time.Now().Add(time.Hour))
		if err == nil || strings.Contains(err.Error(), key) {
			t.Errorf("Save onto a directory = %v, want an error without the key", err)
		}
		for _, name := range dirNames(t, s.Dir()) {
			if strings.HasSuffix(name, ".tmp") {
				t.Errorf("failed Save left the temporary file %s", name)
			}
		}
	})
}

func TestTouch(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	key := testKey("a")
	mustSave(t, s, key, "data", time.Now().Add(time.Minute))
	before, _, _ := s.Load(ctx, key)
	later := time.Now().Add(time.Hour)
	if err := s.Touch(ctx, key, later); err != nil {
		t.Fatalf("Touch = %v", err)
	}
	after, ok, err := s.Load(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Load after Touch = %v, %v", ok, err)
	}
	if string(after.Data) != "data" || !after.Expiry.Equal(later.Round(0)) || after.Version != before.Version {
		t.Errorf("after Touch, Load = {%q %v %d}, want {%q %v %d}", after.Data, after.Expiry, after.Version, "data", later, before.Version)
	}

	missing := testKey("missing")
	if err := s.Touch(ctx, missing, later); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Touch(missing) = %v, want core.ErrNotFound", err)
	}
	if _, err := os.Lstat(s.lockPath(missing)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Touch(missing) left a lock file (stat: %v)", err)
	}
	if got := loadData(t, s, missing); got != "<none>" {
		t.Errorf("Touch created a record: Load = %q", got)
	}

	expired := testKey("expired")
	mustSave(t, s, expired, "old", time.Now().Add(20*time.Millisecond))
	time.Sleep(40 * time.Millisecond)
	if err := s.Touch(ctx, expired, later); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Touch(expired) = %v, want core.ErrNotFound", err)
	}
	if got := loadData(t, s, expired); got != "<none>" {
		t.Errorf("Touch revived an expired record: Load = %q", got)
	}

	if err := s.Touch(ctx, key, time.Now().Add(-time.Second)); err != nil {
		t.Errorf("Touch(past expiry) = %v", err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("after Touch with a past expiry, Load = %q, want not found", got)
	}
}

// TestNoOpenFileReplaced: no write path of the store replaces or removes
// a record file that this process still holds open, which Windows
// refuses (a Touch used to rename over the record it was copying from).
// It looks at the process's open files in /proc, so it runs on Linux.
func TestNoOpenFileReplaced(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the open files of the process from /proc/self/fd (Linux only)")
	}
	s := newStore(t, Config{})
	ctx := context.Background()
	checked := 0
	s.replaceHook = func(path string) {
		checked++
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == path {
				t.Errorf("%s is replaced or removed while this process has it open (fd %s)", filepath.Base(path), fd.Name())
			}
		}
	}
	key := testKey("a")
	mustSave(t, s, key, "data", time.Now().Add(time.Minute))
	if err := s.Touch(ctx, key, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Touch = %v", err)
	}
	rec, _, err := s.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, key, rec.Version, []byte("new"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("CompareAndSwap = %v", err)
	}
	if err := s.Touch(ctx, key, time.Now().Add(-time.Second)); err != nil { // removes it
		t.Fatalf("Touch(past expiry) = %v", err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("after Touch with a past expiry, Load = %q, want not found", got)
	}
	mustSave(t, s, key, "data", time.Now().Add(time.Minute))
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if checked < 5 {
		t.Errorf("the hook ran %d times, want at least 5 (save, touch, swap, touch, save, delete)", checked)
	}
}

func TestCompareAndSwap(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	key := testKey("a")
	exp := time.Now().Add(time.Hour)
	cas := func(v uint64, data string) (uint64, error) {
		return s.CompareAndSwap(ctx, key, v, []byte(data), exp)
	}
	if _, err := cas(7, "x"); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(missing, version 7) = %v, want ErrConflict", err)
	}
	if names := dirNames(t, s.Dir()); len(names) != 0 {
		t.Errorf("a conflicting CompareAndSwap left %v", names)
	}
	v1, err := cas(0, "one")
	if err != nil || v1 == 0 {
		t.Fatalf("CompareAndSwap(missing, 0) = %d, %v; want a version, nil", v1, err)
	}
	if _, err := cas(0, "again"); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(live, 0) = %v, want ErrConflict", err)
	}
	rec, _, _ := s.Load(ctx, key)
	if rec.Version != v1 {
		t.Errorf("Load().Version = %d, want %d from CompareAndSwap", rec.Version, v1)
	}
	v2, err := cas(v1, "two")
	if err != nil || v2 == 0 || v2 == v1 {
		t.Fatalf("CompareAndSwap(v1) = %d, %v; want a new version", v2, err)
	}
	if _, err := cas(v1, "stale"); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(stale version) = %v, want ErrConflict", err)
	}
	if got := loadData(t, s, key); got != "two" {
		t.Errorf("Load = %q, want %q", got, "two")
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := cas(v2, "revived"); !errors.Is(err, core.ErrConflict) {
		t.Errorf("CompareAndSwap(deleted record) = %v, want ErrConflict (no revival)", err)
	}
	short := testKey("short")
	if _, err := s.CompareAndSwap(ctx, short, 0, []byte("x"), time.Now().Add(20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond)
	if _, err := s.CompareAndSwap(ctx, short, 0, []byte("y"), exp); err != nil {
		t.Errorf("CompareAndSwap(expired, 0) = %v, want nil", err)
	}
	v, err := s.CompareAndSwap(ctx, short, mustVersion(t, s, short), nil, time.Now().Add(-time.Second))
	if err != nil || v == 0 {
		t.Errorf("CompareAndSwap(past expiry) = %d, %v; want a version, nil", v, err)
	}
	if got := loadData(t, s, short); got != "<none>" {
		t.Errorf("after CompareAndSwap with past expiry, Load = %q, want not found", got)
	}
}

func mustVersion(t *testing.T, s *Store, key string) uint64 {
	t.Helper()
	rec, ok, err := s.Load(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	return rec.Version
}

func TestDelete(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	key := testKey("a")
	if err := s.Delete(ctx, key); err != nil {
		t.Errorf("Delete(missing) = %v", err)
	}
	mustSave(t, s, key, "x", time.Now().Add(time.Hour))
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got := loadData(t, s, key); got != "<none>" {
		t.Errorf("Load after Delete = %q", got)
	}
	if names := dirNames(t, s.Dir()); len(names) != 0 {
		t.Errorf("Delete left %v", names)
	}
}

func TestTwoStoresShareDirectory(t *testing.T) {
	dir := t.TempDir()
	a := newStore(t, Config{Dir: dir})
	b := newStore(t, Config{Dir: dir})
	key := testKey("a")
	mustSave(t, a, key, "from a", time.Now().Add(time.Hour))
	if got := loadData(t, b, key); got != "from a" {
		t.Errorf("b.Load = %q, want %q", got, "from a")
	}
	var keys []string
	if err := b.Iterate(context.Background(), func(k string) bool { keys = append(keys, k); return true }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys) != fmt.Sprint([]string{key}) {
		t.Errorf("b.Iterate = %v, want [%s]", keys, key)
	}
	other := newStore(t, Config{Dir: dir, Prefix: "other-"})
	if got := loadData(t, other, key); got != "<none>" {
		t.Errorf("a store with another prefix loaded %q", got)
	}
	if err := b.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if got := loadData(t, a, key); got != "<none>" {
		t.Errorf("a.Load after b.Delete = %q", got)
	}
}

func TestIterate(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	live := map[string]bool{testKey("1"): true, testKey("2"): true, testKey("3"): true}
	for k := range live {
		mustSave(t, s, k, "x", time.Now().Add(time.Hour))
	}
	expired := testKey("expired")
	mustSave(t, s, expired, "x", time.Now().Add(10*time.Millisecond))
	foreign := []string{"README", "sess-short", "sess-" + strings.Repeat("A", 64), "." + "sess-" + testKey("t") + ".123.tmp", "x-" + testKey("y")}
	for _, name := range foreign {
		if err := os.WriteFile(filepath.Join(s.Dir(), name), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	corrupt := testKey("corrupt")
	if err := os.WriteFile(s.recordPath(corrupt), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	seen := map[string]bool{}
	if err := s.Iterate(ctx, func(k string) bool {
		if seen[k] {
			t.Errorf("Iterate yielded %s twice", k)
		}
		seen[k] = true
		// fn may call the store: Iterate must not hold its locks.
		if err := s.Touch(ctx, k, time.Now().Add(2*time.Hour)); err != nil {
			t.Errorf("Touch inside Iterate = %v", err)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != fmt.Sprint(live) {
		t.Errorf("Iterate yielded %v, want %v", seen, live)
	}
	n := 0
	if err := s.Iterate(ctx, func(string) bool { n++; return false }); err != nil || n != 1 {
		t.Errorf("Iterate with fn returning false called fn %d times (err %v), want 1", n, err)
	}
}

func TestDeleteExpired(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	keep := testKey("keep")
	mustSave(t, s, keep, "x", time.Now().Add(time.Hour))
	for i := range 3 {
		mustSave(t, s, testKey(fmt.Sprint("gone", i)), "x", time.Now().Add(200*time.Millisecond))
	}
	orphan := s.lockPath(testKey("orphan"))
	oldTemp := filepath.Join(s.Dir(), ".sess-"+testKey("old")+".1.tmp")
	newTemp := filepath.Join(s.Dir(), ".sess-"+testKey("new")+".2.tmp")
	for _, p := range []string{orphan, oldTemp, newTemp} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(oldTemp, old, old); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	n, err := s.DeleteExpired(ctx)
	if err != nil || n != 3 {
		t.Fatalf("DeleteExpired = %d, %v; want 3, nil", n, err)
	}
	want := []string{".sess-" + testKey("new") + ".2.tmp", "sess-" + keep, "sess-" + keep + ".lock"}
	if got := dirNames(t, s.Dir()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after DeleteExpired the directory holds %v, want %v", got, want)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func TestJanitor(t *testing.T) {
	s := newStore(t, Config{CleanupInterval: 5 * time.Millisecond})
	key := testKey("a")
	mustSave(t, s, key, "x", time.Now().Add(10*time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Lstat(s.recordPath(key)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not remove an expired record within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !s.janitor.Running() {
		t.Fatal("the janitor is not running before Close")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.janitor.Running() {
		t.Error("Close returned before the janitor exited")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	mustSave(t, s, key, "still usable", time.Now().Add(time.Hour))
	if got := loadData(t, s, key); got != "still usable" {
		t.Errorf("Load after Close = %q", got)
	}
	noJanitor := newStore(t, Config{CleanupInterval: -1})
	if noJanitor.janitor != nil {
		t.Error("New with a negative CleanupInterval started a janitor")
	}
	if err := noJanitor.Close(); err != nil {
		t.Errorf("Close without janitor = %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	s := newStore(t, Config{})
	key := testKey("a")
	mustSave(t, s, key, "x", time.Now().Add(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp := time.Now().Add(time.Hour)
	errs := map[string]error{
		"Save":    s.Save(ctx, key, []byte("y"), exp),
		"Delete":  s.Delete(ctx, key),
		"Touch":   s.Touch(ctx, key, exp),
		"Iterate": s.Iterate(ctx, func(string) bool { return true }),
	}
	_, errs["CompareAndSwap"] = s.CompareAndSwap(ctx, key, 0, nil, exp)
	_, _, errs["Load"] = s.Load(ctx, key)
	_, errs["DeleteExpired"] = s.DeleteExpired(ctx)
	for op, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s(cancelled ctx) = %v, want an error wrapping context.Canceled", op, err)
		}
	}
	if got := loadData(t, s, key); got != "x" {
		t.Errorf("Load after cancelled calls = %q, want %q", got, "x")
	}
}

func TestLockWaitHonoursContext(t *testing.T) {
	dir := t.TempDir()
	a := newStore(t, Config{Dir: dir})
	b := newStore(t, Config{Dir: dir})
	key := testKey("a")
	l, err := a.lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = b.CompareAndSwap(ctx, key, 0, []byte("x"), time.Now().Add(time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CompareAndSwap while another store holds the lock = %v, want context.DeadlineExceeded", err)
	}
}

// TestLockFileRemovalKeepsExclusion: a holds key's lock while b waits for
// it on the same lock file; a removes the lock file and unlocks, and c,
// which opens a new lock file at the path, races b for the lock. Either may
// win (b's poll may come first, or c's open): the test waits for whichever
// does and checks that the other does not hold the lock until the winner
// releases it. Every wait has a deadline, so a broken lock fails the test
// instead of hanging it.
func TestLockFileRemovalKeepsExclusion(t *testing.T) {
	dir := t.TempDir()
	a := newStore(t, Config{Dir: dir, CleanupInterval: -1})
	b := newStore(t, Config{Dir: dir, CleanupInterval: -1})
	c := newStore(t, Config{Dir: dir, CleanupInterval: -1})
	key := testKey("a")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type held struct {
		name string
		l    *keyLock
		err  error
	}
	wins := map[string]int{}
	for round := range 12 {
		la, err := a.lock(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan held, 2) // buffered: a contender never waits for the test
		take := func(name string, s *Store) {
			l, err := s.lock(ctx, key)
			got <- held{name, l, err}
		}
		go take("b", b)
		time.Sleep(20 * time.Millisecond) // let b open the lock file a holds
		la.removeLockFile()
		la.unlock()
		// In some rounds b's poll gets a head start on c's open.
		time.Sleep(time.Duration(round%3) * 5 * time.Millisecond)
		go take("c", c)
		first := <-got
		if first.err != nil {
			t.Fatalf("round %d: %s.lock = %v", round, first.name, first.err)
		}
		select {
		case second := <-got:
			if second.err == nil {
				second.l.unlock()
			}
			first.l.unlock()
			t.Fatalf("round %d: %s acquired the lock (error %v) while %s holds it: lock file removal broke exclusion",
				round, second.name, second.err, first.name)
		case <-time.After(50 * time.Millisecond):
		}
		first.l.unlock()
		second := <-got
		if second.err != nil {
			t.Fatalf("round %d: %s.lock after %s released it = %v", round, second.name, first.name, second.err)
		}
		second.l.unlock()
		wins[first.name]++
	}
	t.Logf("first to hold the lock: b %d times, c %d times", wins["b"], wins["c"])
}

func TestConfig(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		s, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if want := filepath.Join(os.TempDir(), "sessionkit"); s.Dir() != want {
			t.Errorf("Dir() = %q, want %q", s.Dir(), want)
		}
		if s.prefix != DefaultPrefix || s.mode != 0o600 {
			t.Errorf("prefix, mode = %q, %v; want %q, 0600", s.prefix, s.mode, DefaultPrefix)
		}
	})
	t.Run("modes", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "new")
		s := newStore(t, Config{Dir: dir, Mode: 0o640, Prefix: "p_"})
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("directory mode = %v, %v; want 0700", fi.Mode().Perm(), err)
		}
		key := testKey("a")
		mustSave(t, s, key, "x", time.Now().Add(time.Hour))
		for _, p := range []string{filepath.Join(dir, "p_"+key), filepath.Join(dir, "p_"+key+".lock")} {
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != 0o640 {
				t.Errorf("%s mode = %v, %v; want 0640", filepath.Base(p), fi.Mode().Perm(), err)
			}
		}
	})
	t.Run("invalid", func(t *testing.T) {
		notDir := filepath.Join(t.TempDir(), "file")
		os.WriteFile(notDir, nil, 0o600)
		for _, cfg := range []Config{
			{Dir: t.TempDir(), Prefix: "a/b"},
			{Dir: t.TempDir(), Prefix: "../"},
			{Dir: t.TempDir(), Mode: fs.ModeDir | 0o600},
			{Dir: notDir},
		} {
			if s, err := New(cfg); err == nil {
				s.Close()
				t.Errorf("New(%+v) = nil error, want an error", cfg)
			}
		}
	})
}

func TestErrorsDoNotContainKey(t *testing.T) {
	s := newStore(t, Config{})
	key := testKey("a")
	// A directory where the lock file belongs makes every write fail at
	// open(2), whose error would normally carry the path.
	if err := os.Mkdir(s.lockPath(key), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	errs := map[string]error{
		"Save":   s.Save(ctx, key, []byte("x"), exp),
		"Delete": s.Delete(ctx, key),
	}
	_, errs["CompareAndSwap"] = s.CompareAndSwap(ctx, key, 0, nil, exp)
	for op, err := range errs {
		if err == nil {
			t.Errorf("%s with a directory as lock file = nil, want an error", op)
		} else if strings.Contains(err.Error(), key) {
			t.Errorf("%s error %q contains the store key", op, err)
		}
	}
}

// TestCorruptFileIsNoSessionThroughManager flips a byte of a session's
// file on disk: the next request gets a new session (not an error), a log
// line says why, and the corrupt file is removed; with AdoptUnknownTokens
// as in strict mode (a corrupt record is not an unknown token).
func TestCorruptFileIsNoSessionThroughManager(t *testing.T) {
	for _, adopt := range []bool{false, true} {
		t.Run(fmt.Sprintf("AdoptUnknownTokens=%v", adopt), func(t *testing.T) { corruptFileThroughManager(t, adopt) })
	}
}

func corruptFileThroughManager(t *testing.T, adopt bool) {
	s := newStore(t, Config{})
	var logs bytes.Buffer
	m, err := core.New(core.Config{Store: s, Logger: slog.New(slog.NewTextHandler(&logs, nil)), AdoptUnknownTokens: adopt})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(cookie string, fn func(*core.Session)) (string, error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		sess := m.Begin(r)
		defer m.Release(sess)
		fn(sess)
		h := http.Header{}
		if err := sess.Err(); err != nil {
			return "", err
		}
		if err := m.Commit(sess, h); err != nil {
			return "", err
		}
		c, _, _ := strings.Cut(h.Get("Set-Cookie"), ";")
		return c, nil
	}
	cookie, err := serve("", func(sess *core.Session) { sess.Set("user", "ann") })
	if err != nil || cookie == "" {
		t.Fatalf("first request: cookie %q, error %v", cookie, err)
	}
	var files []string
	all, _ := filepath.Glob(filepath.Join(s.dir, s.prefix+"*"))
	for _, f := range all {
		if !strings.HasSuffix(f, ".lock") {
			files = append(files, f)
		}
	}
	if len(files) != 1 {
		t.Fatalf("%d record files, want 1", len(files))
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff // a flipped data byte: the checksum no longer matches
	if err := os.WriteFile(files[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	var isNew bool
	// A request that writes: a new session under a new token (with
	// AdoptUnknownTokens too: adopting the token would have the write
	// conflict with the corrupt record).
	c, err := serve(cookie, func(sess *core.Session) { isNew = sess.IsNew(); sess.Get("user"); sess.Set("cart", 1) })
	if err != nil {
		t.Fatalf("request with a corrupt record: %v, want a new session", err)
	}
	if c == "" || c == cookie {
		t.Errorf("request with a corrupt record: cookie %q, want a new token", c)
	}
	if !isNew {
		t.Error("the corrupt record loaded as a session")
	}
	if !strings.Contains(logs.String(), "corrupt") {
		t.Errorf("no log line about the corrupt record: %s", logs.String())
	}
	if _, err := os.Stat(files[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("corrupt record file still there (stat: %v)", err)
	}
}

// TestKeyWaitHonoursContext holds the lock of one key: a save of that key
// with a short deadline gives up with the context's error, and a save of
// another key that shares its first eight hex digits (so that its
// in-process mutex lives in the same map) does not wait for the holder.
func TestKeyWaitHonoursContext(t *testing.T) {
	s := newStore(t, Config{CleanupInterval: -1})
	held, other := "ab000000"+strings.Repeat("0", 56), "ab000000"+strings.Repeat("1", 56)
	l, err := s.lock(context.Background(), held)
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Save(ctx, held, []byte("x"), time.Now().Add(time.Hour)) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Save while the key's lock is held = %v, want an error wrapping context.DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Save still waits for the key's lock long after its deadline")
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Save(ctx, other, []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Save of another key while %s... is locked = %v, want nil (it must not wait for another key's holder)", held[:4], err)
	}
}
