package conformance

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Rules of the core.Store contract, quoted in failure messages.
const (
	ruleNotFound   = "a key that was never saved loads as not found with a nil error"
	ruleRoundTrip  = "Load returns the data last saved under the key"
	ruleExpiry     = "Load returns the saved expiry, rounded down by less than the declared precision, never up"
	ruleOverwrite  = "Save replaces both the data and the expiry of a record"
	rulePastExpiry = "Save with an expiry that is not in the future deletes the record"
	ruleDelete     = "a deleted record loads as not found"
	ruleDeleteNone = "deleting a key that does not exist is not an error"
	ruleTooLarge   = "a record larger than the store holds fails with ErrTooLarge and leaves the previous record intact"
	ruleNoAlias    = "a store neither retains the slice given to Save nor returns one it keeps or reuses"
	ruleReadOnly   = "a store does not modify the data it is given to write (the core keeps the record it wrote in that slice)"
	ruleExpires    = "a record whose expiry has passed loads as not found"
	ruleDeleteAll  = "every Delete takes effect, not almost every one"
)

var storeLoadChecks = []storeCheck{
	{name: "Unknown", run: storeCheckLoadUnknown},
	{name: "NoAlias", run: storeCheckLoadNoAlias},
}

var storeSaveChecks = []storeCheck{
	{name: "RoundTrip", run: storeCheckRoundTrip},
	{name: "EmptyValue", run: storeCheckEmptyValue},
	{name: "AllByteValues", run: storeCheckAllBytes},
	{name: "LargeValue", run: storeCheckLargeValue},
	{name: "TooLarge", run: storeCheckTooLarge, applies: func(o StoreOptions) bool { return o.MaxRecordSize > 0 }},
	{name: "Expiry", run: storeCheckSaveExpiry},
	{name: "Overwrite", run: storeCheckOverwrite},
	{name: "PastExpiry", run: storeCheckPastExpiry},
	{name: "NoAlias", run: storeCheckSaveNoAlias},
	{name: "ReadOnly", run: storeCheckSaveReadOnly},
}

var storeDeleteChecks = []storeCheck{
	{name: "Existing", run: storeCheckDelete},
	{name: "Unknown", run: storeCheckDeleteUnknown},
	{name: "Many", run: storeCheckDeleteMany},
}

var storeExpiryChecks = []storeCheck{
	{name: "AfterWait", slow: true, run: storeCheckExpiresAfterWait},
}

func storeCheckLoadUnknown(ctx context.Context, s core.Store, _ StoreOptions) error {
	return storeLoadMissing(ctx, s, "never-saved key", storeNewKey(), ruleNotFound)
}

func storeCheckRoundTrip(ctx context.Context, s core.Store, _ StoreOptions) error {
	return storeRoundTrip(ctx, s, []byte("sessionkit conformance"))
}

func storeCheckEmptyValue(ctx context.Context, s core.Store, _ StoreOptions) error {
	return storeRoundTrip(ctx, s, []byte{})
}

func storeCheckAllBytes(ctx context.Context, s core.Store, _ StoreOptions) error {
	data := make([]byte, 512)
	for i := range data {
		data[i] = byte(i) ^ byte(i>>8) // every value twice, in two orders
	}
	return storeRoundTrip(ctx, s, data)
}

func storeCheckLargeValue(ctx context.Context, s core.Store, opts StoreOptions) error {
	size := 64 << 10
	if opts.MaxRecordSize > 0 && opts.MaxRecordSize < size {
		size = opts.MaxRecordSize
	}
	return storeRoundTrip(ctx, s, storePattern(size))
}

// storePattern returns n bytes that differ from any truncation or shift.
func storePattern(n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	return data
}

// storeRoundTrip saves data under a fresh key and loads it back.
func storeRoundTrip(ctx context.Context, s core.Store, data []byte) error {
	key := storeNewKey()
	if err := storeSave(ctx, s, "k", key, data, storeExpiry(time.Hour), ruleRoundTrip); err != nil {
		return err
	}
	_, err := storeLoadFound(ctx, s, "k", key, data, ruleRoundTrip)
	return err
}

func storeCheckTooLarge(ctx context.Context, s core.Store, opts StoreOptions) error {
	key, exp := storeNewKey(), storeExpiry(time.Hour)
	old := []byte("previous record")
	if err := storeSave(ctx, s, "k", key, old, exp, ruleRoundTrip); err != nil {
		return err
	}
	big := storePattern(opts.MaxRecordSize + 1)
	err := s.Save(ctx, key, big, storeExpiry(2*time.Hour))
	call := fmt.Sprintf("Save(k, %d bytes) with declared MaxRecordSize %d", len(big), opts.MaxRecordSize)
	if err := storeWantErr(call, err, core.ErrTooLarge, ruleTooLarge); err != nil {
		return err
	}
	_, err = storeLoadRecord(ctx, s, "k", key, old, exp, opts, ruleTooLarge)
	return err
}

func storeCheckSaveExpiry(ctx context.Context, s core.Store, opts StoreOptions) error {
	key, exp := storeNewKey(), storeExpiry(time.Hour)
	data := []byte("expiry")
	if err := storeSave(ctx, s, "k", key, data, exp, ruleExpiry); err != nil {
		return err
	}
	_, err := storeLoadRecord(ctx, s, "k", key, data, exp, opts, ruleExpiry)
	return err
}

func storeCheckOverwrite(ctx context.Context, s core.Store, opts StoreOptions) error {
	key := storeNewKey()
	steps := []struct {
		data []byte
		exp  time.Time
	}{
		{[]byte("first value, the longer one"), storeExpiry(2 * time.Hour)},
		{[]byte("second"), storeExpiry(time.Hour)},          // shorter data, earlier expiry
		{[]byte("third value"), storeExpiry(3 * time.Hour)}, // later expiry
	}
	for _, st := range steps {
		if err := storeSave(ctx, s, "k", key, st.data, st.exp, ruleOverwrite); err != nil {
			return err
		}
		if _, err := storeLoadRecord(ctx, s, "k", key, st.data, st.exp, opts, ruleOverwrite); err != nil {
			return err
		}
	}
	return nil
}

func storeCheckPastExpiry(ctx context.Context, s core.Store, _ StoreOptions) error {
	keys := storeNewKeys(3)
	past := map[string]time.Time{
		"k0": time.Now().Add(-time.Second).Round(0),
		"k1": time.Now().Add(-time.Hour).Round(0),
		"k2": {},
	}
	for i, label := range []string{"k0", "k1", "k2"} {
		if err := storeSave(ctx, s, label, keys[i], []byte("past"), past[label], rulePastExpiry); err != nil {
			return err
		}
		if err := storeLoadMissing(ctx, s, label, keys[i], rulePastExpiry); err != nil {
			return fmt.Errorf("after Save(%s) with expiry %v: %w", label, past[label], err)
		}
	}
	// A past expiry also deletes a live record.
	key := storeNewKey()
	if err := storeSave(ctx, s, "k", key, []byte("live"), storeExpiry(time.Hour), rulePastExpiry); err != nil {
		return err
	}
	if err := storeSave(ctx, s, "k", key, []byte("gone"), time.Now().Add(-time.Minute), rulePastExpiry); err != nil {
		return err
	}
	if err := storeLoadMissing(ctx, s, "k", key, rulePastExpiry); err != nil {
		return fmt.Errorf("after saving a live record and then the same key with a past expiry: %w", err)
	}
	return nil
}

func storeCheckDelete(ctx context.Context, s core.Store, _ StoreOptions) error {
	key := storeNewKey()
	if err := storeSave(ctx, s, "k", key, []byte("doomed"), storeExpiry(time.Hour), ruleDelete); err != nil {
		return err
	}
	if err := s.Delete(ctx, key); err != nil {
		return storeViolation("Delete(k)", fmt.Sprintf("error %q", err), "nil error", ruleDelete)
	}
	if err := storeLoadMissing(ctx, s, "k", key, ruleDelete); err != nil {
		return fmt.Errorf("after Delete(k): %w", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		return storeViolation("Delete(k) a second time", fmt.Sprintf("error %q", err), "nil error", ruleDeleteNone)
	}
	return nil
}

func storeCheckDeleteUnknown(ctx context.Context, s core.Store, _ StoreOptions) error {
	if err := s.Delete(ctx, storeNewKey()); err != nil {
		return storeViolation("Delete(never-saved key)", fmt.Sprintf("error %q", err), "nil error", ruleDeleteNone)
	}
	return nil
}

// storeAliasSizes are the record sizes the aliasing checks try: a short
// record and a large one (64 KiB, or the declared limit if lower), because
// a store may copy only small values, or only large ones.
func storeAliasSizes(opts StoreOptions) []int {
	large := 64 << 10
	if opts.MaxRecordSize > 0 && opts.MaxRecordSize < large {
		large = opts.MaxRecordSize
	}
	return []int{len("original"), large}
}

// storeAliasData returns n bytes of recognisable data and a mutation of it.
func storeAliasData(n int) (data, mutated []byte) {
	data = storePattern(n)
	if n == len("original") {
		data = []byte("original")
	}
	mutated = bytes.Clone(data)
	for i := range mutated {
		mutated[i] ^= 0xff
	}
	return data, mutated
}

func storeCheckSaveNoAlias(ctx context.Context, s core.Store, opts StoreOptions) error {
	for _, n := range storeAliasSizes(opts) {
		key := storeNewKey()
		data, mutated := storeAliasData(n)
		want := bytes.Clone(data)
		if err := storeSave(ctx, s, "k", key, data, storeExpiry(time.Hour), ruleNoAlias); err != nil {
			return err
		}
		copy(data, mutated)
		if _, err := storeLoadFound(ctx, s, "k", key, want, ruleNoAlias); err != nil {
			return fmt.Errorf("after the caller modified the %d-byte slice it passed to Save: %w", n, err)
		}
	}
	return nil
}

// storeSlice is a slice given to a write, named for a message, with a
// copy of what it held before the call.
type storeSlice struct {
	name          string
	given, before []byte
}

// storeGiven returns data, named name, with a copy of what it holds now.
func storeGiven(name string, data []byte) storeSlice {
	return storeSlice{name, data, bytes.Clone(data)}
}

// storeUntouched requires each slice given to a write to hold what it
// held before the call; call names the write.
func storeUntouched(call string, slices ...storeSlice) error {
	for _, sl := range slices {
		if !bytes.Equal(sl.given, sl.before) {
			return storeViolation(call, fmt.Sprintf("%s changed to %s", sl.name, storeDescribe(sl.given)),
				fmt.Sprintf("%s left as %s", sl.name, storeDescribe(sl.before)), ruleReadOnly)
		}
	}
	return nil
}

// storeWriteUntouched makes one write of n bytes of recognisable data,
// with write, and requires the store to leave them as they were (see
// ruleReadOnly); op and label name the write for a message.
func storeWriteUntouched(op, label string, n int, write func(data []byte) error) error {
	data, _ := storeAliasData(n)
	given := storeGiven("data", data)
	if err := write(data); err != nil {
		return err
	}
	return storeUntouched(fmt.Sprintf("%s(%s, %d bytes)", op, label, n), given)
}

// storeCheckSaveReadOnly saves a short and a large record, each once new
// and once over the first, and requires every slice to be as it was.
func storeCheckSaveReadOnly(ctx context.Context, s core.Store, opts StoreOptions) error {
	for _, n := range storeAliasSizes(opts) {
		key := storeNewKey()
		for _, label := range []string{"new k", "k again"} {
			if err := storeWriteUntouched("Save", label, n, func(data []byte) error {
				return storeSave(ctx, s, label, key, data, storeExpiry(time.Hour), ruleReadOnly)
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

func storeCheckLoadNoAlias(ctx context.Context, s core.Store, opts StoreOptions) error {
	for _, n := range storeAliasSizes(opts) {
		key := storeNewKey()
		want, mutated := storeAliasData(n)
		if err := storeSave(ctx, s, "k", key, bytes.Clone(want), storeExpiry(time.Hour), ruleNoAlias); err != nil {
			return err
		}
		rec, err := storeLoadFound(ctx, s, "k", key, want, ruleNoAlias)
		if err != nil {
			return err
		}
		// Another record loaded next must not land in the slice returned
		// first (a store reusing one read buffer): the core keeps the
		// strings it decodes from that slice.
		other := storeNewKey()
		if err := storeSave(ctx, s, "other", other, bytes.Clone(mutated), storeExpiry(time.Hour), ruleNoAlias); err != nil {
			return err
		}
		if _, err := storeLoadFound(ctx, s, "other", other, mutated, ruleNoAlias); err != nil {
			return err
		}
		if !bytes.Equal(rec.Data, want) {
			return storeViolation(fmt.Sprintf("Load(k) of %d bytes, after Load(other)", n), "the slice returned for k changed", "it keeps k's data", ruleNoAlias)
		}
		copy(rec.Data, mutated)
		if _, err := storeLoadFound(ctx, s, "k", key, want, ruleNoAlias); err != nil {
			return fmt.Errorf("after the caller modified the %d-byte slice Load returned: %w", n, err)
		}
	}
	return nil
}

func storeCheckExpiresAfterWait(ctx context.Context, s core.Store, opts StoreOptions) error {
	key := storeNewKey()
	exp := time.Now().Add(storeLead(ctx, opts)).Round(0)
	data := []byte("short-lived")
	if err := storeSave(ctx, s, "k", key, data, exp, ruleExpires); err != nil {
		return err
	}
	if _, err := storeLoadFound(ctx, s, "k", key, data, ruleRoundTrip); err != nil {
		return storeLate(fmt.Errorf("before its expiry: %w", err), exp, opts)
	}
	if err := storeSleepUntil(ctx, exp.Add(100*time.Millisecond)); err != nil {
		return err
	}
	if err := storeLoadMissing(ctx, s, "k", key, ruleExpires); err != nil {
		return fmt.Errorf("100ms after its expiry: %w", err)
	}
	return nil
}
