package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Rules about keys, concurrency and contexts.
const (
	ruleIsolation   = "records under different keys are independent"
	ruleWholeKey    = "every character of a key counts: keys sharing a long prefix or suffix are different keys"
	ruleInvalidKey  = "a key that is not 64 lowercase hex characters is rejected with an error or not found, never stored or a panic"
	ruleConcurrency = "a store is safe for concurrent use and loses no write"
	ruleCancelled   = "a cancelled context makes the call fail with an error wrapping ctx.Err() and change nothing"
	ruleDeadline    = "a context past its deadline makes the call fail with an error wrapping ctx.Err() and change nothing"
)

var storeKeyChecks = []storeCheck{
	{name: "Isolation", run: storeCheckIsolation},
	{name: "Invalid", run: storeCheckInvalidKeys},
	{name: "SharedPrefix", run: storeCheckSharedPrefix},
}

var storeConcurrencyChecks = []storeCheck{
	{name: "Mixed", run: storeCheckConcurrency},
}

var storeContextChecks = []storeCheck{
	{name: "Cancelled", run: func(ctx context.Context, s core.Store, _ StoreOptions) error {
		return storeCheckDoneContext(ctx, s, storeCancelled(ctx), context.Canceled, ruleCancelled)
	}},
	{name: "Deadline", run: func(ctx context.Context, s core.Store, _ StoreOptions) error {
		return storeCheckDoneContext(ctx, s, storeExpired(ctx), context.DeadlineExceeded, ruleDeadline)
	}},
}

func storeCheckIsolation(ctx context.Context, s core.Store, _ StoreOptions) error {
	keys := storeNewKeys(3)
	data := [][]byte{[]byte("alpha"), []byte("beta"), []byte("gamma")}
	labels := []string{"k0", "k1", "k2"}
	for i := range keys {
		if err := storeSave(ctx, s, labels[i], keys[i], data[i], storeExpiry(time.Hour), ruleIsolation); err != nil {
			return err
		}
	}
	for i := range keys {
		if _, err := storeLoadFound(ctx, s, labels[i], keys[i], data[i], ruleIsolation); err != nil {
			return err
		}
	}
	if err := s.Delete(ctx, keys[1]); err != nil {
		return storeViolation("Delete(k1)", fmt.Sprintf("error %q", err), "nil error", ruleIsolation)
	}
	for _, i := range []int{0, 2} {
		if _, err := storeLoadFound(ctx, s, labels[i], keys[i], data[i], ruleIsolation); err != nil {
			return fmt.Errorf("after Delete(k1): %w", err)
		}
	}
	return storeLoadMissing(ctx, s, "k1", keys[1], ruleDelete)
}

// storeSharedKeys returns two groups of keys that differ from each other in
// one position only: 16 that share their first 63 characters and 16 that
// share their last 63.
func storeSharedKeys() (keys, labels []string) {
	base, base2 := storeNewKey(), storeNewKey()
	const hexDigits = "0123456789abcdef"
	for _, c := range hexDigits {
		keys = append(keys, base[:63]+string(c))
		labels = append(labels, fmt.Sprintf("key ending in %c", c))
	}
	for _, c := range hexDigits {
		keys = append(keys, string(c)+base2[1:])
		labels = append(labels, fmt.Sprintf("key starting with %c", c))
	}
	return keys, labels
}

func storeCheckSharedPrefix(ctx context.Context, s core.Store, _ StoreOptions) error {
	keys, labels := storeSharedKeys()
	value := func(i int) []byte { return []byte(fmt.Sprintf("record %d", i)) }
	exp := storeExpiry(time.Hour)
	for i, k := range keys {
		if err := storeSave(ctx, s, labels[i], k, value(i), exp, ruleWholeKey); err != nil {
			return err
		}
	}
	for i, k := range keys {
		if _, err := storeLoadFound(ctx, s, labels[i], k, value(i), ruleWholeKey); err != nil {
			return fmt.Errorf("after saving %d keys that differ in one character: %w", len(keys), err)
		}
	}
	// Delete one key of each group; its neighbours must survive.
	gone := map[int]bool{5: true, 16 + 11: true}
	for i := range gone {
		if err := s.Delete(ctx, keys[i]); err != nil {
			return storeViolation(fmt.Sprintf("Delete(%s)", labels[i]), storeErrText(err), "nil error", ruleWholeKey)
		}
	}
	for i, k := range keys {
		if gone[i] {
			if err := storeLoadMissing(ctx, s, labels[i], k, ruleWholeKey); err != nil {
				return fmt.Errorf("after deleting it: %w", err)
			}
			continue
		}
		if _, err := storeLoadFound(ctx, s, labels[i], k, value(i), ruleWholeKey); err != nil {
			return fmt.Errorf("after deleting the %s and the %s: %w", labels[5], labels[16+11], err)
		}
	}
	return nil
}

// storeInvalidKeys returns keys the store must not accept, by label.
func storeInvalidKeys() []struct{ label, key string } {
	valid := storeNewKey()
	return []struct{ label, key string }{
		{"path traversal", "../../etc/passwd"},
		{"empty", ""},
		{"uppercase hex", strings.ToUpper(valid)},
		{"65 characters", valid + "0"},
		{"63 characters", valid[:63]},
		{"NUL byte", valid[:10] + "\x00" + valid[11:]},
		{"slash", valid[:32] + "/" + valid[33:]},
		{"newline", valid[:63] + "\n"},
	}
}

func storeCheckInvalidKeys(ctx context.Context, s core.Store, _ StoreOptions) error {
	for _, bad := range storeInvalidKeys() {
		if err := storeCheckInvalidKey(ctx, s, bad.label, bad.key); err != nil {
			return err
		}
	}
	if it, ok := s.(core.Iterator); ok {
		var listed []string
		err := storeNoPanic("Iterate", func() error {
			return it.Iterate(ctx, func(key string) bool { listed = append(listed, key); return true })
		})
		if err != nil {
			return err
		}
		if len(listed) > 0 {
			return storeViolation("Iterate after saving under invalid keys", fmt.Sprintf("%d keys, first %q", len(listed), listed[0]), "no keys", ruleInvalidKey)
		}
	}
	return nil
}

// storeCheckInvalidKey tries every operation on one invalid key.
func storeCheckInvalidKey(ctx context.Context, s core.Store, label, key string) error {
	data := []byte("must not be stored")
	call := func(op string) string { return fmt.Sprintf("%s(%s key %q)", op, label, key) }
	var saveErr error
	if err := storeNoPanic(call("Save"), func() error {
		saveErr = s.Save(ctx, key, data, storeExpiry(time.Hour))
		return nil
	}); err != nil {
		return err
	}
	// Whether Save failed or not, nothing may be loadable under the key or
	// under the valid key a careless store might normalise it to.
	probes := []struct{ label, key string }{{fmt.Sprintf("%s key %q", label, key), key}}
	if lower := strings.ToLower(key); lower != key && core.ValidKey(lower) {
		probes = append(probes, struct{ label, key string }{"the lowercase form of the " + label + " key", lower})
	}
	for _, p := range probes {
		k := p.key
		var rec core.Record
		var found bool
		var loadErr error
		if err := storeNoPanic(call("Load"), func() error {
			rec, found, loadErr = s.Load(ctx, k)
			return nil
		}); err != nil {
			return err
		}
		if loadErr == nil && found {
			got := fmt.Sprintf("found %s after Save returned %v", storeDescribe(rec.Data), saveErr)
			return storeViolation(fmt.Sprintf("Load(%s)", p.label), got, "an error or not found", ruleInvalidKey)
		}
	}
	ops := []struct {
		op string
		fn func() error
	}{
		{"Delete", func() error { _ = s.Delete(ctx, key); return nil }},
	}
	if t, ok := s.(core.Toucher); ok {
		ops = append(ops, struct {
			op string
			fn func() error
		}{"Touch", func() error { _ = t.Touch(ctx, key, storeExpiry(time.Hour)); return nil }})
	}
	if c, ok := s.(core.CompareAndSwapper); ok {
		ops = append(ops, struct {
			op string
			fn func() error
		}{"CompareAndSwap", func() error { _, _ = c.CompareAndSwap(ctx, key, 0, data, storeExpiry(time.Hour)); return nil }})
	}
	for _, o := range ops {
		if err := storeNoPanic(call(o.op), o.fn); err != nil {
			return err
		}
	}
	return nil
}

// storeNoPanic runs fn and turns a panic into a violation.
func storeNoPanic(call string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = storeViolation(call, fmt.Sprintf("panic: %v", p), "no panic", ruleInvalidKey)
		}
	}()
	return fn()
}

func storeCheckConcurrency(ctx context.Context, s core.Store, _ StoreOptions) error {
	const workers, rounds = 8, 25
	shared := storeNewKey()
	own := storeNewKeys(workers)
	exp := storeExpiry(time.Hour)
	value := func(w, r int) []byte { return []byte(fmt.Sprintf("worker %d round %d", w, r)) }

	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			errs[w] = storeConcurrentWorker(ctx, s, w, rounds, own[w], shared, exp, value)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for w := range workers {
		label := fmt.Sprintf("key of worker %d", w)
		if _, err := storeLoadFound(ctx, s, label, own[w], value(w, rounds-1), ruleConcurrency); err != nil {
			return fmt.Errorf("after all workers finished: %w", err)
		}
	}
	rec, found, err := s.Load(ctx, shared)
	if err != nil {
		return storeViolation("Load(shared key)", fmt.Sprintf("error %q", err), "nil error", ruleConcurrency)
	}
	if found && !strings.HasPrefix(string(rec.Data), "worker ") {
		return storeViolation("Load(shared key)", storeDescribe(rec.Data), "one of the values saved", ruleConcurrency)
	}
	return nil
}

// storeConcurrentWorker writes its own key and the shared one, checking that
// its own key always holds what it last wrote.
func storeConcurrentWorker(ctx context.Context, s core.Store, w, rounds int, own, shared string, exp time.Time, value func(w, r int) []byte) error {
	label := fmt.Sprintf("key of worker %d", w)
	for r := range rounds {
		v := value(w, r)
		if err := storeSave(ctx, s, label, own, v, exp, ruleConcurrency); err != nil {
			return err
		}
		if err := storeSave(ctx, s, "shared key", shared, v, exp, ruleConcurrency); err != nil {
			return err
		}
		if _, err := storeLoadFound(ctx, s, label, own, v, ruleConcurrency); err != nil {
			return fmt.Errorf("worker %d, while the others run: %w", w, err)
		}
		if _, _, err := s.Load(ctx, shared); err != nil {
			return storeViolation("Load(shared key)", fmt.Sprintf("error %q", err), "nil error", ruleConcurrency)
		}
		if r%5 == 4 {
			if err := s.Delete(ctx, shared); err != nil {
				return storeViolation("Delete(shared key)", fmt.Sprintf("error %q", err), "nil error", ruleConcurrency)
			}
		}
	}
	return nil
}

// storeCheckDoneContext calls every method with the done context dctx and
// requires errors wrapping want and no change to the store.
func storeCheckDoneContext(ctx context.Context, s core.Store, dctx context.Context, want error, rule string) error {
	key, fresh := storeNewKey(), storeNewKey()
	data, exp := []byte("kept"), storeExpiry(time.Hour)
	if err := storeSave(ctx, s, "k", key, data, exp, ruleRoundTrip); err != nil {
		return err
	}
	_, _, err := s.Load(dctx, key)
	if err := storeWantErr("Load(done ctx, k)", err, want, rule); err != nil {
		return err
	}
	err = s.Save(dctx, key, []byte("overwritten"), storeExpiry(2*time.Hour))
	if err := storeWantErr("Save(done ctx, k)", err, want, rule); err != nil {
		return err
	}
	err = s.Save(dctx, fresh, []byte("created"), storeExpiry(2*time.Hour))
	if err := storeWantErr("Save(done ctx, new key)", err, want, rule); err != nil {
		return err
	}
	err = s.Delete(dctx, key)
	if err := storeWantErr("Delete(done ctx, k)", err, want, rule); err != nil {
		return err
	}
	if _, err := storeLoadFound(ctx, s, "k", key, data, rule); err != nil {
		return fmt.Errorf("after Save and Delete with a done context: %w", err)
	}
	if err := storeLoadMissing(ctx, s, "new key", fresh, rule); err != nil {
		return fmt.Errorf("after Save with a done context: %w", err)
	}
	return nil
}
