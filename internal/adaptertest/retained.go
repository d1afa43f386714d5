package adaptertest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// CheckRetainedWriter serves GET /keep on h once, then GET /other 100
// times, and fails when a response of /other carries what was written
// through the writer /keep kept: a handler that holds on to its response
// writer past its request (a goroutine that writes late) must reach its
// own response only, never a later visitor's. The handler of /keep keeps
// the writer the framework gave it; the handler of /other sets a session
// value, sets the header X-Late and writes "late" through the kept writer,
// and then answers "other".
func CheckRetainedWriter(t *testing.T, h http.Handler) {
	t.Helper()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/keep", nil))
	for i := range 100 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/other", nil))
		if body := rec.Body.String(); body != "other" || rec.Header().Get("X-Late") != "" {
			t.Fatalf("request %d: body %q, X-Late %q; want body \"other\" and no X-Late: the kept writer reached another response",
				i, body, rec.Header().Get("X-Late"))
		}
		if len(rec.Result().Cookies()) != 1 {
			t.Fatalf("request %d: cookies %v, want the session's", i, rec.Result().Cookies())
		}
	}
}
