package sqlitestore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
)

// TestLockedByAnotherProcess is the SQLite store's paused server: another
// process (here another connection) holds the write lock while a request
// commits. Reads go on in WAL mode, so the load succeeds; the commit must
// give up at the core's store-call deadline (well before the 5-second
// busy timeout) with the error handler's answer and no cookie, and the
// next request after the lock is released must succeed.
func TestLockedByAnotherProcess(t *testing.T) {
	s := openStore(t, "", Config{})
	other := openStore(t, s.Path(), Config{})
	m, err := core.New(core.Config{
		Store:        s,
		StoreTimeout: testserver.PausedStoreTimeout / 4,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := nethttp.Get(r)
		n, _ := core.Value[int](sess, "n")
		sess.Set("n", n+1)
		_, _ = w.Write([]byte("ok"))
	}))
	serve := func(cookie string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		// Not a speed check: the request must end at the store deadline,
		// not after the busy timeout (generous margin).
		_ = testserver.Within(t, 4*testserver.PausedStoreTimeout, "a request with the database locked", func() error {
			h.ServeHTTP(w, r)
			return nil
		})
		return w
	}
	first := serve("")
	cookies := first.Result().Cookies()
	if first.Code != http.StatusOK || len(cookies) != 1 {
		t.Fatalf("first request: status %d, %d cookies; want 200 and a cookie", first.Code, len(cookies))
	}
	cookie := cookies[0].Name + "=" + cookies[0].Value

	ctx := context.Background()
	conn, err := other.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	w := serve(cookie)
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusServiceUnavailable || len(w.Header().Values("Set-Cookie")) != 0 {
		t.Errorf("request with the database locked: status %d, Set-Cookie %q; want the error handler's 503 and no cookie", w.Code, w.Header().Values("Set-Cookie"))
	}
	if again := serve(cookie); again.Code != http.StatusOK {
		t.Errorf("request after the lock was released: status %d, want 200", again.Code)
	}
}
