package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/core/otelsession"
)

// otelModes are the values of -otel.
const otelModes = `"" (off), stdout (spans and metrics printed to standard output, and /metrics) or prometheus (/metrics only)`

// telemetry is the demo's OpenTelemetry setup for -otel: the Observer for
// core.Config, the Prometheus /metrics handler, and a tracer for the
// request spans that the store and commit spans are children of.
type telemetry struct {
	observer core.Observer
	metrics  http.Handler
	tracer   trace.Tracer
	shutdown func(context.Context) error
}

// metricsInterval is how often -otel stdout prints the metrics (and once
// more at shutdown).
const metricsInterval = 30 * time.Second

// newTelemetry sets up -otel mode; mode "" returns nil.
func newTelemetry(mode string, stdout io.Writer) (*telemetry, error) {
	if mode == "" {
		return nil, nil
	}
	if mode != "stdout" && mode != "prometheus" {
		return nil, fmt.Errorf("unknown -otel %q (want %s)", mode, otelModes)
	}
	reg := promclient.NewRegistry()
	prom, err := prometheus.New(prometheus.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	mopts := []sdkmetric.Option{sdkmetric.WithReader(prom)}
	var tp trace.TracerProvider = noop.NewTracerProvider()
	var shutdowns []func(context.Context) error
	if mode == "stdout" {
		spans, err := stdouttrace.New(stdouttrace.WithWriter(stdout), stdouttrace.WithPrettyPrint())
		if err != nil {
			return nil, err
		}
		metrics, err := stdoutmetric.New(stdoutmetric.WithWriter(stdout), stdoutmetric.WithPrettyPrint())
		if err != nil {
			return nil, err
		}
		stp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
		shutdowns = append(shutdowns, stp.Shutdown)
		tp = stp
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics, sdkmetric.WithInterval(metricsInterval))))
	}
	mp := sdkmetric.NewMeterProvider(mopts...)
	shutdowns = append(shutdowns, mp.Shutdown)
	obs, err := otelsession.New(otelsession.Config{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		return nil, err
	}
	return &telemetry{
		observer: obs,
		metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		tracer:   tp.Tracer("github.com/sessionkit/sessionkit/cmd/sessiondemo"),
		shutdown: func(ctx context.Context) error {
			var errs []error
			for _, f := range shutdowns {
				errs = append(errs, f(ctx))
			}
			return errors.Join(errs...)
		},
	}, nil
}

// wrap serves GET /metrics and starts a server span around every other
// request, so that the session's spans have a parent.
func (t *telemetry) wrap(app http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" && r.Method == http.MethodGet {
			t.metrics.ServeHTTP(w, r)
			return
		}
		ctx, span := t.tracer.Start(r.Context(), "HTTP "+r.Method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		app.ServeHTTP(w, r.WithContext(ctx))
	})
}

// withHealth serves GET /healthz, a readiness probe: 200 when the session
// store answers within the Manager's StoreTimeout, else 503.
func withHealth(m *core.Manager, app http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.Method != http.MethodGet {
			app.ServeHTTP(w, r)
			return
		}
		if err := m.Check(r.Context()); err != nil {
			m.LogError(r, err)
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
}
