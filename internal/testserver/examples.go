package testserver

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
)

// RunWithServer runs a test binary whose runnable examples need a server:
// call it from TestMain as os.Exit(testserver.RunWithServer(m, env, find)).
// When the environment variable env is empty, find (for example Redis)
// locates or starts the server and RunWithServer puts its address into env
// for the examples to read. When no server can be had, the examples are
// skipped with a message (their Output cannot be checked), or the run fails
// under SESSIONKIT_REQUIRE_SERVERS=1. Servers started here stop after the
// run.
func RunWithServer(m *testing.M, env string, find func(tb testing.TB) string) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	tb := &mainTB{}
	if os.Getenv(env) == "" {
		var addr string
		done := make(chan struct{})
		go func() { // find may end with Fatal or Skip, which call runtime.Goexit
			defer close(done)
			addr = find(tb)
		}()
		<-done
		switch {
		case tb.failed || tb.skipped:
			if RequireServers() {
				fmt.Fprintf(os.Stderr, "testserver: the examples need a server: %s\n", tb.msg)
				tb.cleanup()
				return 1
			}
			fmt.Fprintf(os.Stderr, "testserver: examples skipped: %s\n", tb.msg)
			skip := "^Example"
			if old := flag.Lookup("test.skip").Value.String(); old != "" {
				skip = old + "|" + skip
			}
			_ = flag.Set("test.skip", skip)
		default:
			os.Setenv(env, addr)
		}
	}
	code := m.Run()
	tb.cleanup()
	return code
}

// mainTB is the testing.TB that RunWithServer hands to the server helpers,
// outside of any test: it records Fatal and Skip, keeps Cleanup functions
// and makes temporary directories. Methods it does not implement panic.
type mainTB struct {
	testing.TB
	mu       sync.Mutex
	failed   bool
	skipped  bool
	msg      string
	cleanups []func()
}

func (t *mainTB) Helper()                   {}
func (t *mainTB) Name() string              { return "TestMain" }
func (t *mainTB) Log(...any)                {}
func (t *mainTB) Logf(string, ...any)       {}
func (t *mainTB) Error(args ...any)         { fmt.Fprintln(os.Stderr, args...) }
func (t *mainTB) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (t *mainTB) Fatal(args ...any)         { t.end(&t.failed, fmt.Sprint(args...)) }
func (t *mainTB) Fatalf(f string, a ...any) { t.end(&t.failed, fmt.Sprintf(f, a...)) }
func (t *mainTB) Skip(args ...any)          { t.end(&t.skipped, fmt.Sprint(args...)) }
func (t *mainTB) Skipf(f string, a ...any)  { t.end(&t.skipped, fmt.Sprintf(f, a...)) }

func (t *mainTB) end(flag *bool, msg string) {
	t.mu.Lock()
	*flag, t.msg = true, msg
	t.mu.Unlock()
	runtime.Goexit()
}

func (t *mainTB) Cleanup(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, fn)
}

func (t *mainTB) TempDir() string {
	dir, err := os.MkdirTemp("", "sessionkit-testserver-")
	if err != nil {
		t.Fatalf("testserver: temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// cleanup runs the Cleanup functions, last registered first.
func (t *mainTB) cleanup() {
	t.mu.Lock()
	fns := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}
