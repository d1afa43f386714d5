package core_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/core"
)

// TestLogError checks that Manager.LogError, used by adapters that answer
// failures through their framework, logs the line the default
// ErrorHandler logs, and that neither carries the request's token.
func TestLogError(t *testing.T) {
	const token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	errDown := errors.New("store down")
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/cart", nil)
		r.Header.Set("Cookie", core.DefaultCookieName+"="+token)
		return r
	}
	h := newHarness(t, core.Config{})
	rec := httptest.NewRecorder()
	h.m.HandleError(rec, req(), errDown)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("default ErrorHandler status = %d, want 500", rec.Code)
	}
	fromHandler := h.logs.String()
	h.logs.Reset()
	h.m.LogError(req(), errDown)
	fromLogError := h.logs.String()

	strip := func(line string) string { // drop the time attribute
		_, rest, _ := strings.Cut(line, " ")
		return rest
	}
	if fromLogError == "" || strip(fromLogError) != strip(fromHandler) {
		t.Errorf("LogError logged %q, want the default ErrorHandler's line %q", fromLogError, fromHandler)
	}
	for _, want := range []string{"level=ERROR", `msg="sessionkit: request failed"`, "method=POST", "path=/cart", `error="store down"`} {
		if !strings.Contains(fromLogError, want) {
			t.Errorf("LogError logged %q, want it to contain %s", fromLogError, want)
		}
	}
	if strings.Contains(fromHandler+fromLogError, token) {
		t.Errorf("the log carries the token: %q", fromHandler+fromLogError)
	}
}
