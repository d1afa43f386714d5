package otelsession_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/core/otelsession"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func Example() {
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	obs, err := otelsession.New(otelsession.Config{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		panic(err)
	}
	st := memory.New(memory.Config{})
	defer st.Close()
	m, err := core.New(core.Config{Store: st, Observer: obs})
	if err != nil {
		panic(err)
	}
	h := nethttp.Middleware(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nethttp.Get(r).Set("user", "gopher")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))

	for _, s := range spans.Ended() {
		fmt.Println("span:", s.Name())
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		fmt.Println("metric:", m.Name, m.Unit)
	}
	// Output:
	// span: sessionkit.store.compare_and_swap
	// span: sessionkit.commit
	// metric: sessionkit.session.created {session}
	// metric: sessionkit.commit.duration s
	// metric: sessionkit.store.call.duration s
}
