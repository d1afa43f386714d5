// Package otelsession turns the events of a sessionkit Manager into
// OpenTelemetry spans and metrics: set the Observer it returns as
// core.Config.Observer.
//
//	obs, err := otelsession.New(otelsession.Config{})
//	m, err := core.New(core.Config{Store: st, Observer: obs})
//
// Spans: one per store call, "sessionkit.store.<operation>" (for example
// sessionkit.store.load, sessionkit.store.compare_and_swap), and one per
// commit that makes store calls, "sessionkit.commit", whose children are
// the commit's store calls. Both are children of the span in the request's
// context (the one an HTTP server instrumentation such as otelhttp starts),
// and the session events (loaded, created, renewed, destroyed, gone,
// conflict) are added to the current span as span events.
//
// Metrics, in the OpenTelemetry semantic-convention style (dotted names,
// UCUM units, durations in seconds as float histograms):
//
//	sessionkit.session.loads          counter   {load}      sessionkit.outcome: hit, miss, expired, corrupt, error
//	sessionkit.session.created        counter   {session}
//	sessionkit.session.renewed        counter   {session}
//	sessionkit.session.destroyed      counter   {session}
//	sessionkit.session.expired        counter   {session}
//	sessionkit.session.gone           counter   {session}   ended by a concurrent request; the changes were dropped
//	sessionkit.commit.conflicts       counter   {conflict}  compare-and-swap conflicts retried
//	sessionkit.errors                 counter   {error}     sessionkit.operation: load, commit; error.type (store for a failed load)
//	sessionkit.commit.duration        histogram s           sessionkit.outcome: nothing, written, touched, dropped, error
//	sessionkit.store.call.duration    histogram s           sessionkit.store, sessionkit.operation, sessionkit.outcome: ok, conflict, not_found, declined, error
//
// sessionkit.store is the store's package name (memory, redisstore, ...),
// sessionkit.operation the store operation (load, save, delete,
// compare_and_swap, touch, ...). No attribute, span or event ever holds a
// token or a store key.
package otelsession

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessionkit/sessionkit/core"
)

// DurationBuckets are the bucket boundaries, in seconds, of the duration
// histograms: store calls often take well under a millisecond, which the
// SDK's default boundaries (meant for milliseconds) would put in one
// bucket.
var DurationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/sessionkit/sessionkit/core/otelsession"

// Attribute keys.
const (
	AttrStore     = attribute.Key("sessionkit.store")
	AttrOperation = attribute.Key("sessionkit.operation")
	AttrOutcome   = attribute.Key("sessionkit.outcome")
	AttrErrorType = attribute.Key("error.type")
)

// Config configures an Observer.
type Config struct {
	// TracerProvider makes the spans. Default: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the instruments. Default:
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
}

// Observer is a core.Observer that records OpenTelemetry spans and
// metrics. It is safe for concurrent use.
type Observer struct {
	tracer trace.Tracer

	loads, created, renewed, destroyed, expired, gone, conflicts, errs metric.Int64Counter
	commitDur, storeDur                                                metric.Float64Histogram

	attrs  cache[attrKey, opts] // attribute sets, built once
	events cache[string, []trace.EventOption]
	calls  cache[callKey, *callInfo]
}

// cache maps a small, bounded set of keys to values built once. Lookups
// take no lock and allocate nothing (unlike a sync.Map, whose keys are
// boxed): the map is replaced, copied, when a key is added.
type cache[K comparable, V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]V]
}

// get returns the value of k, built by build the first time.
func (c *cache[K, V]) get(k K, build func() V) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	n := make(map[K]V)
	if old != nil {
		maps.Copy(n, *old)
	}
	v := build()
	n[k] = v
	c.m.Store(&n)
	return v
}

// callKey names the store calls of one operation on one store.
type callKey struct {
	store string
	op    core.StoreOp
}

// callInfo is what the spans and measurements of one callKey share,
// built once.
type callInfo struct {
	name  string                  // the span name
	start []trace.SpanStartOption // kind and attributes
}

// call returns the callInfo of op on store.
func (o *Observer) call(store string, op core.StoreOp) *callInfo {
	return o.calls.get(callKey{store, op}, func() *callInfo {
		return &callInfo{
			name: "sessionkit.store." + string(op),
			start: []trace.SpanStartOption{
				trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(AttrStore.String(store), AttrOperation.String(string(op))),
			},
		}
	})
}

var _ core.Observer = (*Observer)(nil)

// New returns an Observer for cfg, or an error when an instrument cannot
// be created.
func New(cfg Config) (*Observer, error) {
	tp, mp := cfg.TracerProvider, cfg.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	o := &Observer{tracer: tp.Tracer(ScopeName)}
	meter := mp.Meter(ScopeName)
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	o.loads = counter("sessionkit.session.loads", "{load}", "Loads of a session whose request presented a token, by outcome.")
	o.created = counter("sessionkit.session.created", "{session}", "Sessions stored for the first time.")
	o.renewed = counter("sessionkit.session.renewed", "{session}", "Sessions renewed (stored under a new token).")
	o.destroyed = counter("sessionkit.session.destroyed", "{session}", "Sessions destroyed.")
	o.expired = counter("sessionkit.session.expired", "{session}", "Requests that presented the token of an expired session.")
	o.gone = counter("sessionkit.session.gone", "{session}", "Writes dropped because a concurrent request destroyed or renewed the session.")
	o.conflicts = counter("sessionkit.commit.conflicts", "{conflict}", "Compare-and-swap conflicts retried.")
	o.errs = counter("sessionkit.errors", "{error}", "Failed session loads and commits.")
	var err error
	o.commitDur, err = meter.Float64Histogram("sessionkit.commit.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of session commits."), metric.WithExplicitBucketBoundaries(DurationBuckets...))
	errs = append(errs, err)
	o.storeDur, err = meter.Float64Histogram("sessionkit.store.call.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of session store calls."), metric.WithExplicitBucketBoundaries(DurationBuckets...))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sessionkit: otelsession: %w", err)
	}
	return o, nil
}

// attrKey names one attribute set of a measurement.
type attrKey struct {
	store, op, outcome, errType string
}

// opts are the options of a measurement with one attribute set, as the
// variadic arguments of Add and Record (passed as slices built once, they
// cost no allocation per measurement).
type opts struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// set returns the measurement options for k, built once.
func (o *Observer) set(k attrKey) opts {
	return o.attrs.get(k, func() opts {
		set := buildSet(k)
		return opts{add: []metric.AddOption{set}, rec: []metric.RecordOption{set}}
	})
}

// buildSet returns the measurement option of the attributes in k.
func buildSet(k attrKey) metric.MeasurementOption {
	var kv []attribute.KeyValue
	if k.store != "" {
		kv = append(kv, AttrStore.String(k.store))
	}
	if k.op != "" {
		kv = append(kv, AttrOperation.String(k.op))
	}
	if k.outcome != "" {
		kv = append(kv, AttrOutcome.String(k.outcome))
	}
	if k.errType != "" {
		kv = append(kv, AttrErrorType.String(k.errType))
	}
	return metric.WithAttributeSet(attribute.NewSet(kv...))
}

// spanEvent adds an event to the span in ctx, when it records.
func spanEvent(ctx context.Context, name string) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(name)
	}
}

// errorType is the error.type attribute of err: the sentinel it wraps
// when it is one of the core's or the context's, else its Go type, looking
// through the wrappers fmt.Errorf makes (a store's "redisstore: load: %w"
// around a *net.OpError gives *net.OpError, not *fmt.wrapError).
func errorType(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, core.ErrConflict):
		return "conflict"
	case errors.Is(err, core.ErrTooLarge):
		return "too_large"
	case errors.Is(err, core.ErrNotFound):
		return "not_found"
	case errors.Is(err, core.ErrCorrupt):
		return "corrupt"
	}
	for {
		t := fmt.Sprintf("%T", err)
		if t != "*fmt.wrapError" && t != "*fmt.wrapErrors" {
			return t
		}
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				next = errs[0] // the first of several
			}
		}
		if next == nil {
			return t
		}
		err = next
	}
}

// SessionLoaded implements core.Observer.
func (o *Observer) SessionLoaded(ctx context.Context, outcome core.LoadOutcome) {
	name := outcome.String()
	o.loads.Add(ctx, 1, o.set(attrKey{outcome: name}).add...)
	switch outcome {
	case core.LoadExpired:
		o.expired.Add(ctx, 1)
	case core.LoadError:
		o.errs.Add(ctx, 1, o.set(attrKey{op: "load", errType: "store"}).add...)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("sessionkit.session.loaded", o.events.get(name, func() []trace.EventOption {
			return []trace.EventOption{trace.WithAttributes(AttrOutcome.String(name))}
		})...)
	}
}

// SessionCreated implements core.Observer.
func (o *Observer) SessionCreated(ctx context.Context) {
	o.created.Add(ctx, 1)
	spanEvent(ctx, "sessionkit.session.created")
}

// SessionRenewed implements core.Observer.
func (o *Observer) SessionRenewed(ctx context.Context) {
	o.renewed.Add(ctx, 1)
	spanEvent(ctx, "sessionkit.session.renewed")
}

// SessionDestroyed implements core.Observer.
func (o *Observer) SessionDestroyed(ctx context.Context) {
	o.destroyed.Add(ctx, 1)
	spanEvent(ctx, "sessionkit.session.destroyed")
}

// SessionGone implements core.Observer.
func (o *Observer) SessionGone(ctx context.Context) {
	o.gone.Add(ctx, 1)
	spanEvent(ctx, "sessionkit.session.gone")
}

// ConflictRetried implements core.Observer.
func (o *Observer) ConflictRetried(ctx context.Context, attempt int) {
	o.conflicts.Add(ctx, 1)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("sessionkit.commit.conflict", trace.WithAttributes(attribute.Int("sessionkit.attempt", attempt)))
	}
}

// CommitStarted implements core.Observer: it starts the commit's span.
func (o *Observer) CommitStarted(ctx context.Context) context.Context {
	ctx, span := o.tracer.Start(ctx, "sessionkit.commit", trace.WithSpanKind(trace.SpanKindInternal))
	return context.WithValue(ctx, commitSpanKey{}, span)
}

// commitSpanKey marks the context CommitStarted returned with its span.
type commitSpanKey struct{}

// SessionCommitted implements core.Observer: it records the commit's
// duration and ends its span.
func (o *Observer) SessionCommitted(ctx context.Context, e core.CommitEvent) {
	outcome := e.Outcome.String()
	if e.Err != nil {
		outcome = "error"
		o.errs.Add(ctx, 1, o.set(attrKey{op: "commit", errType: errorType(e.Err)}).add...)
	}
	o.commitDur.Record(ctx, e.Duration.Seconds(), o.set(attrKey{outcome: outcome}).rec...)
	span, ok := ctx.Value(commitSpanKey{}).(trace.Span)
	if !ok {
		return // no CommitStarted: the span in ctx is the request's
	}
	span.SetAttributes(AttrOutcome.String(outcome))
	if e.Err != nil {
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, "commit failed")
		span.SetAttributes(AttrErrorType.String(errorType(e.Err)))
	}
	span.End()
}

// StoreCallStarted implements core.Observer: it starts the call's span.
func (o *Observer) StoreCallStarted(ctx context.Context, op core.StoreOp, store string) context.Context {
	ci := o.call(store, op)
	ctx, _ = o.tracer.Start(ctx, ci.name, ci.start...)
	return ctx
}

// StoreCallFinished implements core.Observer: it records the call's
// duration and ends its span.
func (o *Observer) StoreCallFinished(ctx context.Context, e core.StoreCallEvent) {
	outcome := "ok"
	span := trace.SpanFromContext(ctx)
	switch {
	case e.Declined:
		// The store cannot renew these keys in one step; the core does it
		// in separate calls. Not a failure.
		outcome = "declined"
		span.SetAttributes(AttrOutcome.String(outcome))
	case e.NotFound:
		// A Touch found the record gone (expired or ended meanwhile).
		outcome = "not_found"
		span.SetAttributes(AttrOutcome.String(outcome))
	case errors.Is(e.Err, core.ErrConflict):
		// Lost against another writer: the core retries; not a failure.
		outcome = "conflict"
		span.SetAttributes(AttrOutcome.String(outcome))
	case e.Err != nil:
		outcome = "error"
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, string(e.Op)+" failed")
		span.SetAttributes(AttrErrorType.String(errorType(e.Err)))
	}
	o.storeDur.Record(ctx, e.Duration.Seconds(), o.set(attrKey{store: e.Store, op: string(e.Op), outcome: outcome}).rec...)
	span.End()
}
