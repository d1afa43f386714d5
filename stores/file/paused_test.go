//go:build unix

package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pausedHolderEnv gives TestPausedLockHolder's child the directory and the
// key whose lock it holds ("dir" + os.PathListSeparator + "key").
const pausedHolderEnv = "SESSIONKIT_FILE_PAUSED_HOLDER"

// TestPausedLockHolder runs a second OS process (this test binary,
// re-executed) that takes one key's lock and is then stopped with SIGSTOP,
// as a server paused mid-request. In this process:
//   - a write of that key gives up with its context's error;
//   - writes of other keys do not wait for it, those whose in-process
//     mutex lives in the same map (the same first eight hex digits) included,
//     while a writer of the held key waits;
//   - a cleanup pass, DeleteExpired with no deadline of its own as the
//     janitor calls it, removes every other expired record and returns an
//     error that says it left one key (the held key is filed under a user,
//     so the pass meets it twice: its record, then its index entry);
//   - once the process runs again and exits, the next pass removes the
//     last expired record and its index entry, and reports nothing left.
func TestPausedLockHolder(t *testing.T) {
	if v := os.Getenv(pausedHolderEnv); v != "" {
		pausedHolderChild(t, v)
		return
	}
	dir := t.TempDir()
	s := newStore(t, Config{Dir: dir, CleanupInterval: -1})
	s.sweepLockWait = 300 * time.Millisecond
	held := "ab000000" + strings.Repeat("0", 56)
	written := []string{"ab000000" + strings.Repeat("1", 56), testKey("written")}
	expired := []string{"ab000000" + strings.Repeat("2", 56), testKey("x"), testKey("y")}
	writeExpiredFiled(t, s, held, "ann")
	for _, k := range expired {
		writeExpired(t, s, k)
	}
	live := testKey("live")
	mustSave(t, s, live, "live", time.Now().Add(time.Hour))

	child := startPausedHolder(t, dir, held)

	// A writer of the held key waits (3 s) while the other keys are written.
	waiting := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := s.CompareAndSwap(ctx, held, 0, []byte("new"), time.Now().Add(time.Hour))
		waiting <- err
	}()
	// Once it holds the key's mutex (it then waits for the file lock).
	for deadline := time.Now().Add(time.Minute); !s.keys.InUse(held); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writer of the held key has not taken its mutex after a minute")
		}
	}
	for _, k := range written {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.Save(ctx, k, []byte("new"), time.Now().Add(time.Hour))
		cancel()
		if err != nil {
			t.Errorf("Save(%s...) while another process holds %s...'s lock = %v; want nil, without waiting for it", k[:4], held[:4], err)
		}
	}
	select {
	case err := <-waiting:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("CompareAndSwap of the key a paused process holds = %v, want an error wrapping context.DeadlineExceeded", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("CompareAndSwap of the key a paused process holds still waits, a minute after its 3 s deadline")
	}

	n, err := deleteExpiredWithin(t, s, time.Minute)
	if n != len(expired) || !errors.Is(err, errLockBusy) || !strings.Contains(err.Error(), "1 keys left") {
		t.Errorf("DeleteExpired while a paused process holds one expired key's lock = %d, %v; want %d removed and an error saying 1 key was left", n, err, len(expired))
	}
	if _, err := os.Lstat(s.recordPath(held)); err != nil {
		t.Errorf("the record whose lock the paused process holds: %v; want it left for the next pass", err)
	}
	if got := indexEntries(t, s)[dirOf("ann")]; len(got) != 1 || got[0] != held {
		t.Errorf("index entries of the held key's user after the pass = %v, want [%s...] left for the next pass", got, held[:4])
	}
	for _, k := range expired {
		if _, err := os.Lstat(s.recordPath(k)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("expired record %s... after the pass: %v; want it removed", k[:4], err)
		}
	}
	for _, k := range append([]string{live}, written...) {
		if got := loadData(t, s, k); got == "<none>" {
			t.Errorf("live record %s... removed by the pass", k[:4])
		}
	}

	child.resumeAndWait(t)
	if n, err := deleteExpiredWithin(t, s, time.Minute); n != 1 || err != nil {
		t.Errorf("DeleteExpired after the paused process exited = %d, %v; want 1, nil", n, err)
	}
	if names, err := filepath.Glob(filepath.Join(dir, "sess-"+held+"*")); err != nil || len(names) != 0 {
		t.Errorf("after the last pass the held key still has %v (%v)", names, err)
	}
	if got := indexEntries(t, s); len(got) != 0 {
		t.Errorf("index after the last pass = %v, want empty", got)
	}
}

// writeExpiredFiled creates key's record, expired and filed under user
// (with its index entry), as a session that ended while logged in leaves
// it for the cleanup.
func writeExpiredFiled(t *testing.T, s *Store, key, user string) {
	t.Helper()
	l, err := s.lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()
	f := filing{filed: true, until: time.Now().Add(time.Hour).UnixNano(), user: userDigest(user)}
	if _, err := s.writeFiled(key, 0, []byte("expired session"), time.Now().Add(-time.Minute).UnixNano(), filing{}, f, true); err != nil {
		t.Fatal(err)
	}
}

// deleteExpiredWithin runs s.DeleteExpired with no deadline, as the
// janitor does, and fails the test if it has not returned within limit.
func deleteExpiredWithin(t *testing.T, s *Store, limit time.Duration) (int, error) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := s.DeleteExpired(context.Background())
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-time.After(limit):
		t.Fatalf("DeleteExpired has not returned after %v", limit)
		return 0, nil
	}
}

// pausedHolder is TestPausedLockHolder's child process, stopped.
type pausedHolder struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    chan string // the child's stdout after its "locked" line, once it closes
	stderr *bytes.Buffer
	once   sync.Once
}

// startPausedHolder starts the child, waits until it holds key's lock and
// stops it with SIGSTOP. A cleanup kills it if the test ends first.
func startPausedHolder(t *testing.T, dir, key string) *pausedHolder {
	t.Helper()
	cmd := childCommand(t, "TestPausedLockHolder")
	cmd.Env = append(os.Environ(), pausedHolderEnv+"="+dir+string(os.PathListSeparator)+key)
	h := &pausedHolder{cmd: cmd, out: make(chan string, 1), stderr: new(bytes.Buffer)}
	cmd.Stderr = h.stderr
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	})
	locked := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var rest strings.Builder
		found := false
		for sc.Scan() {
			if !found && sc.Text() == "locked" {
				found = true
				locked <- true
				continue
			}
			rest.WriteString(sc.Text() + "\n")
		}
		if !found {
			locked <- false
		}
		h.out <- rest.String()
	}()
	select {
	case ok := <-locked:
		if !ok {
			t.Fatalf("the child process ended without taking the lock:\n%s", <-h.out)
		}
	case <-time.After(time.Minute):
		t.Fatal("the child process has not taken the lock after a minute")
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	return h
}

// resumeAndWait continues the stopped child and closes its stdin, on which
// it releases the lock and exits; it fails the test unless the child
// exits cleanly within a minute.
func (h *pausedHolder) resumeAndWait(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	h.stdin.Close()
	var out string
	select {
	case out = <-h.out:
	case <-time.After(time.Minute):
		t.Fatal("the child process has not exited a minute after it was resumed")
	}
	var err error
	h.once.Do(func() { err = h.cmd.Wait() })
	if err != nil {
		t.Fatalf("child process: %v\n%s%s", err, out, h.stderr)
	}
}

// pausedHolderChild is the child's side: it takes the lock of the key named
// in v, says so on stdout, and holds it until its stdin closes.
func pausedHolderChild(t *testing.T, v string) {
	dir, key, ok := strings.Cut(v, string(os.PathListSeparator))
	if !ok {
		t.Fatalf("%s=%q: want dir%ckey", pausedHolderEnv, v, os.PathListSeparator)
	}
	s, err := New(Config{Dir: dir, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	l.unlock()
}
