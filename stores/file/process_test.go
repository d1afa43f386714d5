package file

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit/core"
)

// processWriters returns how many concurrent clients each process runs in
// TestTwoProcessesOneSession, and how many keys each commits.
func processWriters() (clients, keys int) {
	if testing.Short() {
		return 8, 4
	}
	return 32, 16
}

// TestTwoProcessesOneSession runs two OS processes (this test binary, and
// itself re-executed) on one directory, each with its own Store and
// core.Manager, whose concurrent clients commit distinct keys to one
// session: no commit may fail and no key may be lost (issue 10).
func TestTwoProcessesOneSession(t *testing.T) {
	if dir := os.Getenv("SESSIONKIT_FILE_SESSION_DIR"); dir != "" {
		failed, first := processWrite(t, dir, os.Getenv("SESSIONKIT_FILE_SESSION_COOKIE"), "p1")
		fmt.Printf("\ncommits failed: %d %v\n", failed, first)
		return
	}
	dir := t.TempDir()
	m := processManager(t, dir)
	cookie, err := processRequest(m, "", func(s *core.Session) { s.Set("owner", "ann") })
	if err != nil || cookie == "" {
		t.Fatalf("new session: cookie %q, error %v", cookie, err)
	}
	cmd := childCommand(t, "TestTwoProcessesOneSession", "-test.short="+strconv.FormatBool(testing.Short()))
	cmd.Env = append(os.Environ(), "SESSIONKIT_FILE_SESSION_DIR="+dir, "SESSIONKIT_FILE_SESSION_COOKIE="+cookie)
	var out []byte
	var childErr error
	var wg sync.WaitGroup
	wg.Go(func() { out, childErr = cmd.CombinedOutput() })
	failed, first := processWrite(t, dir, cookie, "p0")
	wg.Wait()
	if childErr != nil {
		t.Fatalf("child process: %v\n%s", childErr, out)
	}
	var childFailed int
	var childFirst string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "commits failed: "); ok {
			n, msg, _ := strings.Cut(rest, " ")
			childFailed, _ = strconv.Atoi(n)
			childFirst = msg
		}
	}
	clients, keys := processWriters()
	var missing []string
	if _, err := processRequest(m, cookie, func(s *core.Session) {
		for _, p := range []string{"p0", "p1"} {
			for c := range clients {
				for k := range keys {
					if _, ok := s.Get(processKey(p, c, k)); !ok {
						missing = append(missing, processKey(p, c, k))
					}
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if failed+childFailed > 0 || len(missing) > 0 {
		msg := fmt.Sprintf("two processes x %d clients x %d keys on one session: %d + %d of %d commits failed (first: %v / %s), %d keys lost, want none",
			clients, keys, failed, childFailed, 2*clients*keys, first, childFirst, len(missing))
		t.Error(msg)
	}
}

// processManager returns a Manager on a Store on dir.
func processManager(t *testing.T, dir string) *core.Manager {
	s, err := New(Config{Dir: dir, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	m, err := core.New(core.Config{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// processKey names the session key client c of process p commits k-th.
func processKey(p string, c, k int) string { return fmt.Sprintf("%s-c%d-k%d", p, c, k) }

// processWrite runs this process's clients: each commits its keys to the
// session of cookie, one request per key. It returns how many commits
// failed, and the first error.
func processWrite(t *testing.T, dir, cookie, p string) (failed int, first error) {
	m := processManager(t, dir)
	clients, keys := processWriters()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for k := range keys {
				if _, err := processRequest(m, cookie, func(s *core.Session) { s.Set(processKey(p, c, k), k) }); err != nil {
					mu.Lock()
					if failed++; first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return failed, first
}

// processRequest runs fn as one request through m with cookie ("name=value"
// or none) and returns the session cookie the response sets, if any.
func processRequest(m *core.Manager, cookie string, fn func(*core.Session)) (string, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	s := m.Begin(r)
	defer m.Release(s)
	fn(s)
	if err := s.Err(); err != nil {
		return "", err
	}
	h := http.Header{}
	if err := m.Commit(s, h); err != nil {
		return "", err
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == m.Config().Cookie.Name && c.Value != "" {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", nil
}
