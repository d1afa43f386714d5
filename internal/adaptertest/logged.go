package adaptertest

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// Logs collects a Manager's log lines; it is safe for concurrent use.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns what was logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// NewLoggingManager is NewManager with the Manager's log lines, in slog's
// text format, collected in the returned Logs.
func NewLoggingManager(t testing.TB) (*core.Manager, *FlakyStore, *Logs) {
	t.Helper()
	mem := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = mem.Close() })
	st := &FlakyStore{Store: mem}
	logs := new(Logs)
	m, err := core.New(core.Config{Store: st, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return m, st, logs
}

// FailureLoggedMessage is the message every adapter logs a failed load or
// commit with: the one of the Manager's default ErrorHandler.
const FailureLoggedMessage = `msg="sessionkit: request failed"`

// TestFailureLogged checks that the adapter behind mount logs a failed
// load and a failed save once each, through the Manager's logger, with the
// message, method and path of the default ErrorHandler and the store's
// error, and never the token.
func TestFailureLogged(t *testing.T, mount conformance.Mount) {
	const token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // well-formed, unknown
	for _, tc := range []struct {
		name   string
		cookie string
		fail   func(*FlakyStore)
	}{
		{"load", core.DefaultCookieName + "=" + token, func(st *FlakyStore) { st.FailLoad.Store(true) }},
		{"save", "", func(st *FlakyStore) { st.FailSave.Store(true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, st, logs := NewLoggingManager(t)
			tc.fail(st)
			h := mount(m, func(w http.ResponseWriter, _ *http.Request, s *core.Session) {
				s.Set("k", "v")
				_, _ = io.WriteString(w, "handler body")
			})
			req := httptest.NewRequest(http.MethodPost, "/cart", nil)
			if tc.cookie != "" {
				req.Header.Set("Cookie", tc.cookie)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", rec.Code)
			}
			got := logs.String()
			if n := strings.Count(got, FailureLoggedMessage); n != 1 {
				t.Fatalf("log = %q, want one line with %s", got, FailureLoggedMessage)
			}
			for _, want := range []string{"level=ERROR", "method=POST", "path=/cart", ErrStore.Error()} {
				if !strings.Contains(got, want) {
					t.Errorf("log = %q, want it to contain %q", got, want)
				}
			}
			if strings.Contains(got, token) {
				t.Errorf("log = %q carries the token", got)
			}
			for _, c := range rec.Result().Cookies() {
				if c.Value != "" && strings.Contains(got, c.Value) {
					t.Errorf("log = %q carries the token of the response's cookie", got)
				}
			}
		})
	}
}
