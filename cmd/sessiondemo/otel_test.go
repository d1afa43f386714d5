package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the exporters' goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// otelDemo starts the demo with args, its standard output in out.
func otelDemo(t *testing.T, args []string, out io.Writer) (srv *httptest.Server, closeFn func()) {
	t.Helper()
	o, err := parseOptions(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.stdout = out
	h, closeFn, err := newApp(context.Background(), o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv = httptest.NewServer(h)
	srv.Client().Timeout = time.Minute // a hung handler fails the test instead of hanging it
	t.Cleanup(srv.Close)
	return srv, closeFn
}

func fetch(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestOtelStdout: -otel stdout prints the session's spans as they end and
// its metrics at shutdown, and serves them on /metrics too.
func TestOtelStdout(t *testing.T) {
	out := new(lockedBuffer)
	srv, closeFn := otelDemo(t, []string{"-otel", "stdout"}, out)
	client := srv.Client()
	if code, _ := fetch(t, client, srv.URL+"/api/count"); code != http.StatusOK {
		t.Fatalf("GET /api/count = %d", code)
	}
	for _, want := range []string{`"Name": "sessionkit.store.compare_and_swap"`, `"Name": "sessionkit.commit"`, `"Name": "HTTP GET"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("standard output lacks the span %s:\n%s", want, out.String())
		}
	}
	code, body := fetch(t, client, srv.URL+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "sessionkit_session_created_total") {
		t.Errorf("GET /metrics = %d without sessionkit_session_created_total:\n%s", code, body)
	}
	closeFn()
	if !strings.Contains(out.String(), `"Name": "sessionkit.store.call.duration"`) {
		t.Errorf("standard output lacks the metrics after shutdown")
	}
}

// TestOtelPrometheus: -otel prometheus serves the metrics in the
// Prometheus text format, with units in the names and the attributes as
// labels, and prints nothing.
func TestOtelPrometheus(t *testing.T) {
	out := new(lockedBuffer)
	srv, closeFn := otelDemo(t, []string{"-otel", "prometheus"}, out)
	defer closeFn()
	client := srv.Client()
	fetch(t, client, srv.URL+"/api/count")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/count", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, body := fetch(t, client, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, want := range []string{
		"# TYPE sessionkit_session_created_total counter",
		"# TYPE sessionkit_store_call_duration_seconds histogram",
		`sessionkit_store_call_duration_seconds_count{otel_scope_name="github.com/sessionkit/sessionkit/core/otelsession"`,
		`sessionkit_operation="compare_and_swap"`,
		`sessionkit_store="memory"`,
		`sessionkit_commit_duration_seconds_bucket{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %s:\n%s", want, body)
		}
	}
	if out.String() != "" {
		t.Errorf("-otel prometheus printed %q, want nothing", out.String())
	}
}

// TestOtelOff: without -otel there is no /metrics (the app's 404).
func TestOtelOff(t *testing.T) {
	srv, closeFn := otelDemo(t, nil, io.Discard)
	defer closeFn()
	if code, _ := fetch(t, srv.Client(), srv.URL+"/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics without -otel = %d, want 404", code)
	}
	if _, err := parseOptions([]string{"-otel", "zipkin"}, func(string) string { return "" }, io.Discard); err != nil {
		t.Fatal(err)
	}
	o, _ := parseOptions([]string{"-otel", "zipkin"}, func(string) string { return "" }, io.Discard)
	if _, _, err := newApp(context.Background(), o, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "unknown -otel") {
		t.Errorf("newApp(-otel zipkin) = %v, want unknown -otel", err)
	}
}

// TestHealthz: GET /healthz answers 200 while the store answers.
func TestHealthz(t *testing.T) {
	srv, closeFn := otelDemo(t, nil, io.Discard)
	defer closeFn()
	if code, body := fetch(t, srv.Client(), srv.URL+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", code, body)
	}
}
