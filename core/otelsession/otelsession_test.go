package otelsession_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/core/otelsession"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// env is a Manager observed by an otelsession.Observer on the real SDK,
// with in-memory span and metric readers, behind the net/http middleware,
// on a memory store that fails every call while failing is set.
type env struct {
	spans   *tracetest.SpanRecorder
	reader  *sdkmetric.ManualReader
	tracer  trace.Tracer
	h       http.Handler
	failing atomic.Bool
}

var errDown = errors.New("store down")

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	e.tracer = tp.Tracer("test")
	obs, err := otelsession.New(otelsession.Config{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = mem.Close() })
	st := core.WrapStore(mem, core.StoreWrapper{ // fault injection, the documented way
		Around: func(ctx context.Context, _ core.StoreCall, next func(context.Context) error) error {
			if e.failing.Load() {
				return errDown
			}
			return next(ctx)
		},
	})
	m, err := core.New(core.Config{Store: st, Observer: obs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.h = nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		switch r.URL.Path {
		case "/set":
			s.Set("k", "v")
		case "/get":
			_, _ = s.Get("k")
		case "/renew":
			s.Renew()
		case "/destroy":
			s.Destroy()
		}
		_, _ = io.WriteString(w, "ok")
	}))
	return e
}

// do serves one request inside a parent span (the request's, as an HTTP
// instrumentation would start it) and returns the response and the span.
func (e *env) do(t *testing.T, path, cookie string) (*http.Response, trace.Span) {
	t.Helper()
	ctx, span := e.tracer.Start(context.Background(), "GET "+path)
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	span.End()
	return rec.Result(), span
}

func spanByName(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func hasEvent(s sdktrace.ReadOnlySpan, name string) bool {
	for _, ev := range s.Events() {
		if ev.Name == name {
			return true
		}
	}
	return false
}

func attr(attrs []attribute.KeyValue, k attribute.Key) string {
	for _, a := range attrs {
		if a.Key == k {
			return a.Value.String()
		}
	}
	return ""
}

func TestSpans(t *testing.T) {
	e := newEnv(t)
	res, parent := e.do(t, "/set", "")
	cookie := res.Cookies()[0]
	spans := e.spans.Ended()
	commits := spanByName(spans, "sessionkit.commit")
	if len(commits) != 1 {
		t.Fatalf("%d sessionkit.commit spans after a new session, want 1", len(commits))
	}
	commit := commits[0]
	if commit.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("sessionkit.commit is not a child of the request's span")
	}
	if got := attr(commit.Attributes(), otelsession.AttrOutcome); got != "written" {
		t.Errorf("sessionkit.commit outcome %q, want written", got)
	}
	if !hasEvent(commit, "sessionkit.session.created") {
		t.Errorf("sessionkit.commit has no sessionkit.session.created event: %v", commit.Events())
	}
	cas := spanByName(spans, "sessionkit.store.compare_and_swap")
	if len(cas) != 1 || cas[0].Parent().SpanID() != commit.SpanContext().SpanID() {
		t.Fatalf("want one sessionkit.store.compare_and_swap span, child of the commit span; got %d", len(cas))
	}
	if got := attr(cas[0].Attributes(), otelsession.AttrStore); got != "memory" {
		t.Errorf("store attribute %q, want memory", got)
	}
	if cas[0].SpanKind() != trace.SpanKindClient {
		t.Errorf("store span kind %v, want client", cas[0].SpanKind())
	}

	// A read: the load span is a child of the request's span, which gets
	// the loaded event; nothing to commit, so no commit span.
	e.spans.Reset()
	_, parent = e.do(t, "/get", cookie.Name+"="+cookie.Value)
	spans = e.spans.Ended()
	loads := spanByName(spans, "sessionkit.store.load")
	if len(loads) != 1 || loads[0].Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("want one sessionkit.store.load span, child of the request's span; got %d", len(loads))
	}
	if n := len(spanByName(spans, "sessionkit.commit")); n != 0 {
		t.Errorf("%d commit spans for a read, want 0", n)
	}
	req := spanByName(spans, "GET /get")[0]
	if !hasEvent(req, "sessionkit.session.loaded") {
		t.Errorf("the request span has no sessionkit.session.loaded event")
	}

	// A failing store: the load span and the request fail.
	e.spans.Reset()
	e.failing.Store(true)
	res, _ = e.do(t, "/get", cookie.Name+"="+cookie.Value)
	e.failing.Store(false)
	if res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d with the store down, want 500", res.StatusCode)
	}
	loads = spanByName(e.spans.Ended(), "sessionkit.store.load")
	if len(loads) != 1 || loads[0].Status().Code != codes.Error {
		t.Fatalf("want one failed sessionkit.store.load span; got %d", len(loads))
	}
	if got := attr(loads[0].Attributes(), otelsession.AttrErrorType); got != "*errors.errorString" {
		t.Errorf("error.type %q, want *errors.errorString", got)
	}
	for _, s := range e.spans.Ended() {
		for _, a := range s.Attributes() {
			if v := a.Value.String(); len(v) >= 43 && (v == cookie.Value || v == core.StoreKey(cookie.Value)) {
				t.Errorf("span %s attribute %s holds the token or its store key", s.Name(), a.Key)
			}
		}
	}
}

// collect returns the metrics recorded so far, by name.
func (e *env) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelsession.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, otelsession.ScopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// sum returns the value of counter name for the attribute set matching
// want (every listed attribute equal), summed over the matching points.
func sum(t *testing.T, ms map[string]metricdata.Metrics, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		return 0
	}
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a %T, want an int64 sum", name, m.Data)
	}
	var n int64
	for _, dp := range s.DataPoints {
		if matches(dp.Attributes, want) {
			n += dp.Value
		}
	}
	return n
}

func matches(set attribute.Set, want []attribute.KeyValue) bool {
	for _, w := range want {
		if v, ok := set.Value(w.Key); !ok || v != w.Value {
			return false
		}
	}
	return true
}

// count returns the number of recordings of histogram name matching want.
func count(t *testing.T, ms map[string]metricdata.Metrics, name string, want ...attribute.KeyValue) uint64 {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		return 0
	}
	if m.Unit != "s" {
		t.Errorf("%s has unit %q, want s", name, m.Unit)
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is a %T, want a float64 histogram", name, m.Data)
	}
	var n uint64
	for _, dp := range h.DataPoints {
		if matches(dp.Attributes, want) {
			n += dp.Count
		}
	}
	return n
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	res, _ := e.do(t, "/set", "")
	c := res.Cookies()[0]
	cookie := c.Name + "=" + c.Value
	e.do(t, "/get", cookie)
	e.do(t, "/get", core.DefaultCookieName+"=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	res, _ = e.do(t, "/renew", cookie)
	c = res.Cookies()[0]
	cookie = c.Name + "=" + c.Value
	e.do(t, "/destroy", cookie)
	e.failing.Store(true)
	e.do(t, "/set", "")
	e.failing.Store(false)

	ms := e.collect(t)
	outcome := otelsession.AttrOutcome.String
	for _, tc := range []struct {
		name string
		want int64
		attr []attribute.KeyValue
	}{
		{"sessionkit.session.created", 1, nil},
		{"sessionkit.session.renewed", 1, nil},
		{"sessionkit.session.destroyed", 1, nil},
		{"sessionkit.session.expired", 0, nil},
		{"sessionkit.session.loads", 3, []attribute.KeyValue{outcome("hit")}},
		{"sessionkit.session.loads", 1, []attribute.KeyValue{outcome("miss")}},
		{"sessionkit.errors", 1, []attribute.KeyValue{otelsession.AttrOperation.String("commit")}},
	} {
		if got := sum(t, ms, tc.name, tc.attr...); got != tc.want {
			t.Errorf("%s%v = %d, want %d", tc.name, tc.attr, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		want uint64
		attr []attribute.KeyValue
	}{
		{"sessionkit.commit.duration", 3, []attribute.KeyValue{outcome("written")}},
		{"sessionkit.commit.duration", 2, []attribute.KeyValue{outcome("nothing")}},
		{"sessionkit.commit.duration", 1, []attribute.KeyValue{outcome("error")}},
		{"sessionkit.store.call.duration", 4, []attribute.KeyValue{
			otelsession.AttrStore.String("memory"), otelsession.AttrOperation.String("load"), outcome("ok")}},
		{"sessionkit.store.call.duration", 1, []attribute.KeyValue{
			otelsession.AttrOperation.String("compare_and_swap"), outcome("error")}},
	} {
		if got := count(t, ms, tc.name, tc.attr...); got != tc.want {
			t.Errorf("%s%v: %d recordings, want %d", tc.name, tc.attr, got, tc.want)
		}
	}
}

// TestDurationBuckets: store calls from a fraction of a millisecond to
// most of a second land in different buckets of the duration histogram
// (the SDK's default boundaries, meant for milliseconds, put them all in
// the first).
func TestDurationBuckets(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	obs, err := otelsession.New(otelsession.Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	durations := []time.Duration{200 * time.Microsecond, 2 * time.Millisecond, 40 * time.Millisecond, 900 * time.Millisecond}
	for _, d := range durations {
		ctx := obs.StoreCallStarted(context.Background(), core.OpLoad, "memory")
		obs.StoreCallFinished(ctx, core.StoreCallEvent{Op: core.OpLoad, Store: "memory", Duration: d})
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "sessionkit.store.call.duration" {
				continue
			}
			h := m.Data.(metricdata.Histogram[float64])
			if len(h.DataPoints) != 1 {
				t.Fatalf("%d data points, want 1", len(h.DataPoints))
			}
			used := 0
			for _, c := range h.DataPoints[0].BucketCounts {
				if c > 1 {
					t.Errorf("bucket counts %v: two of %v share a bucket", h.DataPoints[0].BucketCounts, durations)
				}
				if c > 0 {
					used++
				}
			}
			if used != len(durations) {
				t.Errorf("bucket counts %v, want %d buckets used (bounds %v)", h.DataPoints[0].BucketCounts, len(durations), h.DataPoints[0].Bounds)
			}
			return
		}
	}
	t.Fatal("no sessionkit.store.call.duration metric collected")
}

// TestStoreCallOutcomes: a declined Renew and a Touch that finds no record
// are recorded with their own outcomes, not as errors, and a failed call's
// error.type names the error at the end of its chain, not the wrapper
// around it.
func TestStoreCallOutcomes(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) })
	obs, err := otelsession.New(otelsession.Config{MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	failure := fmt.Errorf("redisstore: load: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	for _, e := range []core.StoreCallEvent{
		{Op: core.OpRenew, Store: "redisstore", Declined: true},
		{Op: core.OpTouch, Store: "redisstore", NotFound: true},
		{Op: core.OpLoad, Store: "redisstore", Err: failure},
	} {
		ctx := obs.StoreCallStarted(context.Background(), e.Op, e.Store)
		obs.StoreCallFinished(ctx, e)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	ms := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			ms[m.Name] = m
		}
	}
	outcome, op := otelsession.AttrOutcome.String, otelsession.AttrOperation.String
	for _, tc := range []struct {
		op, outcome string
	}{{"renew", "declined"}, {"touch", "not_found"}, {"load", "error"}} {
		if got := count(t, ms, "sessionkit.store.call.duration", op(tc.op), outcome(tc.outcome)); got != 1 {
			t.Errorf("%s calls with outcome %s: %d recordings, want 1", tc.op, tc.outcome, got)
		}
	}
	for _, s := range spans.Ended() {
		switch s.Name() {
		case "sessionkit.store.renew", "sessionkit.store.touch":
			if s.Status().Code == codes.Error {
				t.Errorf("span %s has status Error, want none", s.Name())
			}
		case "sessionkit.store.load":
			if got := attr(s.Attributes(), otelsession.AttrErrorType); got != "*net.OpError" {
				t.Errorf("error.type of a wrapped *net.OpError: %q, want *net.OpError", got)
			}
		default:
			t.Errorf("unexpected span %s", s.Name())
		}
	}
	if n := len(spans.Ended()); n != 3 {
		t.Errorf("%d spans ended, want 3", n)
	}
}
