package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// storeNewKey returns a fresh key shaped like the core's: the lowercase hex
// SHA-256 of random bytes.
func storeNewKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

// storeNewKeys returns n fresh keys.
func storeNewKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = storeNewKey()
	}
	return keys
}

// storeExpiry returns a deadline about d from now (d is minutes or hours)
// with a fixed nanosecond part, without a monotonic clock reading, so that a
// store rounding it up to any precision shows.
func storeExpiry(d time.Duration) time.Time {
	return time.Now().Add(d).Round(0).Truncate(time.Second).Add(123456789 * time.Nanosecond)
}

// storeViolation formats a failed check: Op(args) = got, want want (rule).
func storeViolation(call, got, want, rule string) error {
	return fmt.Errorf("%s = %s, want %s (rule: %s)", call, got, want, rule)
}

// storeDescribe renders bytes for a message: short values literally, long
// ones by length and a prefix.
func storeDescribe(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) <= 32 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%d bytes %q...", len(b), b[:16])
}

// storeSave saves and reports any error as a violation of rule.
func storeSave(ctx context.Context, s core.Store, label, key string, data []byte, expiry time.Time, rule string) error {
	if err := s.Save(ctx, key, data, expiry); err != nil {
		return storeViolation(fmt.Sprintf("Save(%s, %s)", label, storeDescribe(data)), fmt.Sprintf("error %q", err), "nil error", rule)
	}
	return nil
}

// storeLoadFound loads key and requires a record holding data.
func storeLoadFound(ctx context.Context, s core.Store, label, key string, data []byte, rule string) (core.Record, error) {
	call := fmt.Sprintf("Load(%s)", label)
	rec, found, err := s.Load(ctx, key)
	switch {
	case err != nil:
		return rec, storeViolation(call, fmt.Sprintf("error %q", err), "the saved record", rule)
	case !found:
		return rec, storeViolation(call, "not found", fmt.Sprintf("found %s", storeDescribe(data)), rule)
	case !bytes.Equal(rec.Data, data):
		return rec, storeViolation(call, fmt.Sprintf("data %s", storeDescribe(rec.Data)), storeDescribe(data), rule)
	}
	return rec, nil
}

// storeLoadRecord loads key and requires a record holding data until
// expiry, within the declared precision.
func storeLoadRecord(ctx context.Context, s core.Store, label, key string, data []byte, expiry time.Time, opts StoreOptions, rule string) (core.Record, error) {
	rec, err := storeLoadFound(ctx, s, label, key, data, rule)
	if err != nil {
		return rec, err
	}
	return rec, storeCheckExpiry(fmt.Sprintf("Load(%s).Expiry", label), rec.Expiry, expiry, opts, rule)
}

// storeCheckExpiry requires got to be want rounded down by less than the
// declared precision.
func storeCheckExpiry(call string, got, want time.Time, opts StoreOptions, rule string) error {
	early := want.Sub(got)
	ok := early == 0 || (early > 0 && early < opts.ExpiryPrecision)
	if ok {
		return nil
	}
	wantText := want.Format(time.RFC3339Nano)
	if opts.ExpiryPrecision > 0 {
		wantText = fmt.Sprintf("%s or up to %v earlier (declared ExpiryPrecision)", wantText, opts.ExpiryPrecision)
	}
	return storeViolation(call, got.Format(time.RFC3339Nano), wantText, rule)
}

// storeLoadMissing loads key and requires not-found with a nil error.
func storeLoadMissing(ctx context.Context, s core.Store, label, key string, rule string) error {
	call := fmt.Sprintf("Load(%s)", label)
	rec, found, err := s.Load(ctx, key)
	switch {
	case err != nil:
		return storeViolation(call, fmt.Sprintf("error %q", err), "not found and a nil error", rule)
	case found:
		return storeViolation(call, fmt.Sprintf("found %s", storeDescribe(rec.Data)), "not found", rule)
	}
	return nil
}

// storeWantErr requires err to wrap target.
func storeWantErr(call string, err, target error, rule string) error {
	if errors.Is(err, target) {
		return nil
	}
	got := "nil error"
	if err != nil {
		got = fmt.Sprintf("error %q", err)
	}
	return storeViolation(call, got, "an error wrapping "+storeErrName(target), rule)
}

// storeErrName names the sentinel errors the suite expects.
func storeErrName(err error) string {
	switch err {
	case core.ErrConflict:
		return "core.ErrConflict"
	case core.ErrTooLarge:
		return "core.ErrTooLarge"
	case context.Canceled:
		return "context.Canceled"
	case context.DeadlineExceeded:
		return "context.DeadlineExceeded"
	}
	return fmt.Sprintf("%q", err)
}

// storeSleepUntil waits until t or until ctx is done.
func storeSleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("conformance: waiting for expiry: %w", ctx.Err())
	}
}

// storeLead is how far in the future a record that the check then waits
// to expire is saved: far enough that an immediate Load still finds it
// after rounding down to the declared precision.
func storeLead(ctx context.Context, opts StoreOptions) time.Duration {
	lead := opts.ExpiryPrecision + 500*time.Millisecond
	if n, ok := ctx.Value(leadKey{}).(int); ok {
		lead <<= n
	}
	return lead
}

// leadKey is the context key under which storeRunCheck doubles the lead
// for a check that failed late (see errLate).
type leadKey struct{}

// errLate marks a failure seen only after the moment the check's
// short-lived record (or filing) was due to expire: the machine was slower
// than the check's lead, so the failure shows nothing about the store and
// storeRunCheck runs the check again with a doubled lead.
var errLate = errors.New("seen after the record's expiry: the machine was slower than the check's lead")

// storeLate returns err marked with errLate when err is not nil and the
// expiry it was checked against may have passed: a store may end a record
// up to the declared precision early (see StoreOptions.ExpiryPrecision).
func storeLate(err error, expiry time.Time, opts StoreOptions) error {
	if err != nil && !time.Now().Before(expiry.Add(-opts.ExpiryPrecision)) {
		return fmt.Errorf("%w (%w)", err, errLate)
	}
	return err
}

// storeCancelled returns a context that is already cancelled.
func storeCancelled(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cancel()
	return ctx
}

// storeExpired returns a context whose deadline has passed.
func storeExpired(ctx context.Context) context.Context {
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), time.Now().Add(-time.Second))
	cancel() // the deadline has passed, so ctx.Err() stays DeadlineExceeded
	return ctx
}
