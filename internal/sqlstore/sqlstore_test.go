package sqlstore

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestCompile(t *testing.T) {
	q, err := compile("UPDATE t SET v = :newversion, e = :expiry WHERE k = :key AND v = :version AND e > :now OR e > :now")
	if err != nil {
		t.Fatal(err)
	}
	if want := "UPDATE t SET v = ?, e = ? WHERE k = ? AND v = ? AND e > ? OR e > ?"; q.text != want {
		t.Errorf("compile text = %q, want %q", q.text, want)
	}
	if want := []param{pNewVersion, pExpiry, pKey, pVersion, pNow, pNow}; !reflect.DeepEqual(q.order, want) {
		t.Errorf("compile order = %v, want %v", q.order, want)
	}
	a := &args{key: "k", expiry: 2, version: 3, newVersion: 4, now: 5}
	if got, want := q.args(a), []any{int64(4), int64(2), "k", int64(3), int64(5), int64(5)}; !reflect.DeepEqual(got, want) {
		t.Errorf("args = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "SELECT :keys", "SELECT :other", "SELECT a::int"} {
		if _, err := compile(bad); err == nil {
			t.Errorf("compile(%q) = nil error", bad)
		}
	}
}

func TestRetryBusy(t *testing.T) {
	errBusy := errors.New("busy")
	isBusy := func(err error) bool { return err == errBusy }
	ctx := context.Background()
	calls := 0
	err := RetryBusy(ctx, isBusy, time.Minute, func() error {
		if calls++; calls < 3 {
			return errBusy
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("RetryBusy after two busy errors = %v after %d calls, want nil after 3", err, calls)
	}
	other := errors.New("other")
	calls = 0
	if err := RetryBusy(ctx, isBusy, time.Minute, func() error { calls++; return other }); err != other || calls != 1 {
		t.Errorf("RetryBusy(other error) = %v after %d calls, want it at once", err, calls)
	}
	if err := RetryBusy(ctx, nil, time.Minute, func() error { return errBusy }); err != errBusy {
		t.Errorf("RetryBusy without busy = %v, want the error at once", err)
	}
	if err := RetryBusy(ctx, isBusy, 0, func() error { return errBusy }); err != errBusy {
		t.Errorf("RetryBusy with no timeout = %v, want the busy error", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	calls = 0
	err = RetryBusy(cctx, isBusy, time.Minute, func() error {
		if calls++; calls == 2 {
			cancel()
		}
		return errBusy
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errBusy) {
		t.Errorf("RetryBusy with the context cancelled = %v, want it to wrap context.Canceled and the busy error", err)
	}
}

func TestCompileRenewParams(t *testing.T) {
	q, err := compile("SELECT :key, :oldkey, :oldversion, :retired, :retiredexpiry, :version")
	if err != nil {
		t.Fatal(err)
	}
	if want := "SELECT ?, ?, ?, ?, ?, ?"; q.text != want {
		t.Errorf("compile text = %q, want %q", q.text, want)
	}
	a := &args{key: "k", oldKey: "o", oldVersion: 7, retired: []byte("r"), retiredExpiry: 9, version: 3}
	if got, want := q.args(a), []any{"k", "o", int64(7), []byte("r"), int64(9), int64(3)}; !reflect.DeepEqual(got, want) {
		t.Errorf("args = %v, want %v", got, want)
	}
}
