package otelsession_test

import (
	"context"
	"net/http"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/core/otelsession"
)

func mountNetHTTP(m *core.Manager, h conformance.Handler) http.Handler {
	return nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, nethttp.Get(r))
	}))
}

// BenchmarkNoObserver is the net/http adapter's BenchmarkAdapter: the
// baseline of BenchmarkObserver.
func BenchmarkNoObserver(b *testing.B) { conformance.BenchmarkAdapter(b, mountNetHTTP) }

// BenchmarkObserver is BenchmarkAdapter with an otelsession Observer on
// the real SDK: every span sampled, ended and handed to a span processor
// (one that drops it, so memory does not grow over b.N), and every
// measurement aggregated for a manual reader. The difference to
// BenchmarkNoObserver is the telemetry's cost per request.
func BenchmarkObserver(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discardProcessor{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	obs, err := otelsession.New(otelsession.Config{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	conformance.BenchmarkAdapter(b, func(m *core.Manager, h conformance.Handler) http.Handler {
		cfg := m.Config()
		cfg.Observer = obs
		m, err := core.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return mountNetHTTP(m, h)
	})
}

// discardProcessor is a span processor that drops every span.
type discardProcessor struct{}

func (discardProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discardProcessor) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discardProcessor) Shutdown(context.Context) error                  { return nil }
func (discardProcessor) ForceFlush(context.Context) error                { return nil }
