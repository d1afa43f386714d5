package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// brokenStore is a store that breaks one rule of the contract, and the
// checks that must catch it.
type brokenStore struct {
	name  string // what is wrong with it
	opts  StoreOptions
	new   func(t *testing.T) core.Store
	fails []string // "Group/Check" names that must report a violation
}

// brokenMem returns a memory store without sweeper, closed with the test.
func brokenMem(t *testing.T) *memory.Store {
	s := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// mem wraps a fresh memory store with a broken wrapper type.
func mem[W core.Store](wrap func(*memory.Store) W) func(t *testing.T) core.Store {
	return func(t *testing.T) core.Store { return wrap(brokenMem(t)) }
}

var brokenStores = []brokenStore{
	{name: "returns an error for a missing record", new: mem(func(m *memory.Store) core.Store { return errOnMissing{m} }),
		fails: []string{"Load/Unknown"}},
	{name: "finds records that were never saved", new: mem(func(m *memory.Store) core.Store { return phantom{m} }),
		fails: []string{"Load/Unknown", "Delete/Existing"}},
	{name: "returns the slice it keeps from Load", new: func(*testing.T) core.Store { return newNaive(false, true) },
		fails: []string{"Load/NoAlias"}},
	{name: "keeps the caller's slice on Save", new: func(*testing.T) core.Store { return newNaive(true, false) },
		fails: []string{"Save/NoAlias"}},
	{name: "returns its slice from Load only for records of 64 KiB or more", new: func(*testing.T) core.Store { return newNaiveLarge(false, true) },
		fails: []string{"Load/NoAlias"}},
	{name: "keeps the caller's slice on Save only for records of 64 KiB or more", new: func(*testing.T) core.Store { return newNaiveLarge(true, false) },
		fails: []string{"Save/NoAlias"}},
	{name: "reads every record into one reused buffer", new: mem(func(m *memory.Store) core.Store { return &reusesBuffer{Store: m} }),
		fails: []string{"Load/NoAlias"}},
	{name: "drops every 1000th Delete", new: mem(func(m *memory.Store) core.Store { return &dropsDeletes{Store: m} }),
		fails: []string{"Delete/Many"}},
	{name: "keeps keys by their first 63 characters", new: mem(func(m *memory.Store) core.Store { return truncKeys{m, 63} }),
		fails: []string{"Keys/SharedPrefix"}},
	{name: "keeps keys by their first 32 characters", new: mem(func(m *memory.Store) core.Store { return truncKeys{m, 32} }),
		fails: []string{"Keys/SharedPrefix"}},
	{name: "keeps keys by their last 32 characters", new: mem(func(m *memory.Store) core.Store { return tailKeys{m} }),
		fails: []string{"Keys/SharedPrefix"}},
	{name: "revives an expired record on Touch", new: mem(func(m *memory.Store) core.Store { return newTouchRevives(m) }),
		fails: []string{"Toucher/Expired"}},
	{name: "fails Touch when a concurrent write changed the record", new: mem(func(m *memory.Store) core.Store { return touchGivesUp{m} }),
		fails: []string{"Toucher/UnderWrites"}},
	{name: "accepts CompareAndSwap at the version of an expired record", new: mem(func(m *memory.Store) core.Store { return newCASRevivesExpired(m) }),
		fails: []string{"CompareAndSwapper/Expired"}},
	{name: "encrypts the data it is given in place", new: mem(func(m *memory.Store) core.Store { return scribbles{Store: m} }),
		fails: []string{"Save/ReadOnly", "CompareAndSwapper/ReadOnly", "Renewer/ReadOnly", "UserIndexer/ReadOnly"}},
	{name: "encrypts the retired record and the old data of a renewal in place", new: mem(func(m *memory.Store) core.Store { return scribblesOld{m} }),
		fails: []string{"Renewer/ReadOnly"}},
	{name: "encrypts the data of a write that conflicts in place", new: mem(func(m *memory.Store) core.Store { return scribbles{Store: m, onFailure: true} }),
		fails: []string{"CompareAndSwapper/ReadOnly", "Renewer/ReadOnly", "UserIndexer/ReadOnly"}},
	{name: "encrypts a renewal in place, then declines it", new: mem(func(m *memory.Store) core.Store { return scribblesDeclined{m} }),
		fails: []string{"Renewer/ReadOnly"}},
	{name: "loses every write", new: mem(func(m *memory.Store) core.Store { return lossy{m} }),
		fails: []string{"Save/RoundTrip", "Save/Overwrite", "Keys/Isolation", "Concurrency/Mixed", "Context/Cancelled"}},
	{name: "treats empty data as a delete", new: mem(func(m *memory.Store) core.Store { return emptyDeletes{m} }),
		fails: []string{"Save/EmptyValue"}},
	{name: "keeps only valid UTF-8", new: mem(func(m *memory.Store) core.Store { return utf8Only{m} }),
		fails: []string{"Save/AllByteValues"}},
	{name: "truncates records above 1 KiB", new: mem(func(m *memory.Store) core.Store { return truncating{m, 1024} }),
		fails: []string{"Save/LargeValue"}},
	{name: "truncates to its declared limit instead of failing", opts: StoreOptions{MaxRecordSize: 1000},
		new:   mem(func(m *memory.Store) core.Store { return truncating{m, 1000} }),
		fails: []string{"Save/TooLarge"}},
	{name: "deletes the previous record when a record is too large", opts: StoreOptions{MaxRecordSize: 1000},
		new:   mem(func(m *memory.Store) core.Store { return tooLargeClobbers{m, 1000} }),
		fails: []string{"Save/TooLarge"}},
	{name: "rounds expiry up to the second", opts: StoreOptions{ExpiryPrecision: time.Second},
		new:   mem(func(m *memory.Store) core.Store { return roundsUp{m} }),
		fails: []string{"Save/Expiry", "Save/Overwrite", "Toucher/ExtendsExpiry"}},
	{name: "keeps the first expiry on overwrite", new: mem(func(m *memory.Store) core.Store { return keepsExpiry{m} }),
		fails: []string{"Save/Overwrite"}},
	{name: "stores records with a past expiry for a minute", new: mem(func(m *memory.Store) core.Store { return minTTL{m} }),
		fails: []string{"Save/PastExpiry", "Iterator/LiveKeys"}},
	{name: "never expires records on Load", new: mem(func(m *memory.Store) core.Store { return newNoExpiry(m) }),
		fails: []string{"Expiry/AfterWait"}},
	{name: "ignores Delete", new: mem(func(m *memory.Store) core.Store { return deleteNoop{m} }),
		fails: []string{"Delete/Existing", "Keys/Isolation", "Toucher/Missing", "CompareAndSwapper/Deleted"}},
	{name: "fails to delete a missing record", new: mem(func(m *memory.Store) core.Store { return deleteMissingErr{m} }),
		fails: []string{"Delete/Unknown", "Delete/Existing"}},
	{name: "keeps every key in one slot", new: mem(func(m *memory.Store) core.Store { return oneSlot{m} }),
		fails: []string{"Keys/Isolation"}},
	{name: "accepts any string as a key", new: mem(func(m *memory.Store) core.Store { return newAnyKey(m) }),
		fails: []string{"Keys/Invalid"}},
	{name: "panics on short keys", new: mem(func(m *memory.Store) core.Store { return panicky{m} }),
		fails: []string{"Keys/Invalid"}},
	{name: "lowercases keys", new: mem(func(m *memory.Store) core.Store { return lowercasing{m} }),
		fails: []string{"Keys/Invalid"}},
	{name: "loses concurrent writes", new: func(*testing.T) core.Store { return newCOW() },
		fails: []string{"Concurrency/Mixed"}},
	{name: "ignores its context", new: mem(func(m *memory.Store) core.Store { return ignoresCtx{m} }),
		fails: []string{"Context/Cancelled", "Context/Deadline", "Toucher/Cancelled", "CompareAndSwapper/Cancelled",
			"Iterator/Cancelled", "ExpiredDeleter/Cancelled"}},
	{name: "notices cancellation but not deadlines", new: mem(func(m *memory.Store) core.Store { return cancelOnly{ignoresCtx{m}} }),
		fails: []string{"Context/Deadline"}},
	{name: "does not wrap ctx.Err()", new: mem(func(m *memory.Store) core.Store { return ctxUnwrapped{m} }),
		fails: []string{"Context/Cancelled", "Context/Deadline"}},
	{name: "writes before checking its context", new: mem(func(m *memory.Store) core.Store { return writesFirst{m} }),
		fails: []string{"Context/Cancelled", "Context/Deadline"}},
	{name: "ignores Touch", new: mem(func(m *memory.Store) core.Store { return touchNoop{m} }),
		fails: []string{"Toucher/ExtendsExpiry"}},
	{name: "clears data on Touch", new: mem(func(m *memory.Store) core.Store { return touchClears{m} }),
		fails: []string{"Toucher/KeepsData", "Toucher/ExtendsExpiry"}},
	{name: "creates records on Touch", new: mem(func(m *memory.Store) core.Store { return touchCreates{m} }),
		fails: []string{"Toucher/Missing"}},
	{name: "ignores versions in CompareAndSwap", new: mem(func(m *memory.Store) core.Store { return casBlind{m} }),
		fails: []string{"CompareAndSwapper/CreateWhenAbsent", "CompareAndSwapper/SaveChangesVersion",
			"CompareAndSwapper/Stale", "CompareAndSwapper/Deleted"}},
	{name: "returns the old version from CompareAndSwap", new: mem(func(m *memory.Store) core.Store { return casSameVersion{m} }),
		fails: []string{"CompareAndSwapper/LoadedVersion", "CompareAndSwapper/Stale"}},
	{name: "loads version zero", new: mem(func(m *memory.Store) core.Store { return zeroVersion{m} }),
		fails: []string{"CompareAndSwapper/LoadedVersion", "CompareAndSwapper/CreateWhenAbsent"}},
	{name: "keeps the version on Save", new: mem(func(m *memory.Store) core.Store { return newSideVersion(m) }),
		fails: []string{"CompareAndSwapper/SaveChangesVersion"}},
	{name: "touches the expiry before comparing versions", new: mem(func(m *memory.Store) core.Store { return casHalfWrite{m} }),
		fails: []string{"CompareAndSwapper/Stale", "CompareAndSwapper/CreateWhenAbsent"}},
	{name: "re-creates deleted records in CompareAndSwap", new: mem(func(m *memory.Store) core.Store { return casRecreates{m} }),
		fails: []string{"CompareAndSwapper/Deleted"}},
	{name: "keeps records CompareAndSwap expires", new: mem(func(m *memory.Store) core.Store { return casKeepsPast{m} }),
		fails: []string{"CompareAndSwapper/PastExpiryDeletes"}},
	{name: "compares and swaps in two steps", new: mem(func(m *memory.Store) core.Store { return casTwoStep{m} }),
		fails: []string{"CompareAndSwapper/Concurrent"}},
	{name: "lists deleted records", new: mem(func(m *memory.Store) core.Store { return newIterAll(m) }),
		fails: []string{"Iterator/LiveKeys"}},
	{name: "ignores fn's stop", new: mem(func(m *memory.Store) core.Store { return iterNoStop{m} }),
		fails: []string{"Iterator/Stop"}},
	{name: "holds its lock while calling fn", new: mem(func(m *memory.Store) core.Store { return &iterLocked{Store: m} }),
		fails: []string{"Iterator/Reentrant"}},
	{name: "deletes live records in DeleteExpired", new: mem(func(m *memory.Store) core.Store { return delAll{m} }),
		fails: []string{"ExpiredDeleter/KeepsLive"}},
	{name: "DeleteExpired does nothing", new: mem(func(m *memory.Store) core.Store { return delNoop{m} }),
		fails: []string{"ExpiredDeleter/RemovesExpired"}},
	{name: "DeleteExpired miscounts", new: mem(func(m *memory.Store) core.Store { return delMiscounts{m} }),
		fails: []string{"ExpiredDeleter/RemovesExpired"}},
	// Fails the checks that wait for expiry at their reading before the
	// expiry, which must report it, not excuse it as a slow machine.
	{name: "drops records that expire within a minute on Save", new: mem(func(m *memory.Store) core.Store { return dropsShortLived{m} }),
		fails: []string{"Expiry/AfterWait", "ExpiredDeleter/RemovesExpired", "Toucher/Expired", "CompareAndSwapper/Expired"}},
}

// storeFindCheck returns the group and check called name ("Group/Check").
func storeFindCheck(name string) (storeGroup, storeCheck, bool) {
	group, check, _ := strings.Cut(name, "/")
	for _, g := range storeGroups {
		for _, c := range g.checks {
			if g.name == group && c.name == check {
				return g, c, true
			}
		}
	}
	return storeGroup{}, storeCheck{}, false
}

// TestStoreChecksCatchBrokenStores runs checks against stores that break
// the rule they enforce: each must report a violation in the documented
// format.
func TestStoreChecksCatchBrokenStores(t *testing.T) {
	for _, b := range brokenStores {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range b.fails {
				g, c, ok := storeFindCheck(name)
				if !ok {
					t.Fatalf("no check named %q", name)
				}
				if c.slow && testing.Short() {
					continue
				}
				s := b.new(t)
				if g.supported != nil && !g.supported(s) {
					t.Fatalf("%s: broken store %T lacks %s", name, s, g.capability)
				}
				err := c.run(t.Context(), s, b.opts.normalise())
				switch {
				case err == nil:
					t.Errorf("check %s passed on a store that %s", name, b.name)
				case errors.Is(err, errLate):
					t.Errorf("check %s excused the store that %s as a slow machine: %v", name, b.name, err)
				case !strings.Contains(err.Error(), " = ") || !strings.Contains(err.Error(), ", want ") || !strings.Contains(err.Error(), " (rule: "):
					t.Errorf("check %s: message %q does not read Op(args) = got, want want (rule: ...)", name, err)
				default:
					t.Logf("%s: %v", name, err)
				}
			}
		})
	}
}

// TestStoreChecksAllCovered requires every check to be seen failing on at
// least one broken store, so that no check is vacuous.
func TestStoreChecksAllCovered(t *testing.T) {
	covered := make(map[string]bool)
	for _, b := range brokenStores {
		for _, name := range b.fails {
			covered[name] = true
		}
	}
	for _, g := range storeGroups {
		for _, c := range g.checks {
			if name := g.name + "/" + c.name; !covered[name] {
				t.Errorf("check %s is not exercised against any broken store", name)
			}
		}
	}
}

// TestStoreChecksPassOnMemory runs every check directly against the
// reference store, as the control for the broken ones.
func TestStoreChecksPassOnMemory(t *testing.T) {
	opts := []StoreOptions{{}, {MaxRecordSize: 1000, ExpiryPrecision: time.Second}}
	for _, o := range opts {
		for _, g := range storeGroups {
			for _, c := range g.checks {
				if c.slow || (c.applies != nil && !c.applies(o)) {
					continue // the slow ones run in TestStoreOnMemory
				}
				var s core.Store = brokenMem(t)
				if o.MaxRecordSize > 0 {
					s = memory.New(memory.Config{CleanupInterval: -1, MaxRecordSize: o.MaxRecordSize})
				}
				if err := c.run(t.Context(), s, o); err != nil {
					t.Errorf("%s/%s with %+v: %v", g.name, c.name, o, err)
				}
			}
		}
	}
}

// Broken wrappers around memory.Store. Each overrides the methods it breaks.

type errOnMissing struct{ *memory.Store }

func (s errOnMissing) Load(ctx context.Context, key string) (core.Record, bool, error) {
	rec, found, err := s.Store.Load(ctx, key)
	if err == nil && !found {
		return rec, false, errors.New("not found")
	}
	return rec, found, err
}

type phantom struct{ *memory.Store }

func (s phantom) Load(ctx context.Context, key string) (core.Record, bool, error) {
	rec, _, err := s.Store.Load(ctx, key)
	return rec, err == nil, err
}

// scribbles writes as the memory store does, then scrambles the slices it
// was given, as a store that encrypts or compresses in place would: after
// every write, or with onFailure only after one that fails.
type scribbles struct {
	*memory.Store
	onFailure bool
}

// scramble flips every byte of each slice.
func scramble(bs ...[]byte) {
	for _, b := range bs {
		for i := range b {
			b[i] ^= 0x5a
		}
	}
}

// after scrambles bs, the slices of a write that returned err.
func (s scribbles) after(err error, bs ...[]byte) {
	if !s.onFailure || err != nil {
		scramble(bs...)
	}
}

func (s scribbles) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	err := s.Store.Save(ctx, key, data, exp)
	s.after(err, data)
	return err
}

func (s scribbles) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	nv, err := s.Store.CompareAndSwap(ctx, key, v, data, exp)
	s.after(err, data)
	return nv, err
}

func (s scribbles) CompareAndSwapUser(ctx context.Context, key string, v uint64, data []byte, exp time.Time, user string, until time.Time) (uint64, error) {
	nv, err := s.Store.CompareAndSwapUser(ctx, key, v, data, exp, user, until)
	s.after(err, data)
	return nv, err
}

func (s scribbles) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	nv, err := s.Store.Renew(ctx, r)
	s.after(err, r.Data, r.Retired, r.OldData)
	return nv, err
}

// scribblesOld renews as the memory store does, then scrambles the
// renewal's retired record and old data but not the successor's data.
type scribblesOld struct{ *memory.Store }

func (s scribblesOld) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	defer scramble(r.Retired, r.OldData)
	return s.Store.Renew(ctx, r)
}

// scribblesDeclined scrambles a renewal's slices and declines it.
type scribblesDeclined struct{ *memory.Store }

func (s scribblesDeclined) Renew(_ context.Context, r core.Renewal) (uint64, error) {
	scramble(r.Data, r.Retired, r.OldData)
	return 0, core.ErrNotSupported
}

type lossy struct{ *memory.Store }

func (lossy) Save(context.Context, string, []byte, time.Time) error { return nil }

type emptyDeletes struct{ *memory.Store }

func (s emptyDeletes) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	if len(data) == 0 {
		return s.Delete(ctx, key)
	}
	return s.Store.Save(ctx, key, data, exp)
}

type utf8Only struct{ *memory.Store }

func (s utf8Only) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	return s.Store.Save(ctx, key, []byte(strings.ToValidUTF8(string(data), "?")), exp)
}

type truncating struct {
	*memory.Store
	max int
}

func (s truncating) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	return s.Store.Save(ctx, key, data[:min(len(data), s.max)], exp)
}

type tooLargeClobbers struct {
	*memory.Store
	max int
}

func (s tooLargeClobbers) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	if len(data) > s.max {
		_ = s.Delete(ctx, key)
		return fmt.Errorf("too large: %w", core.ErrTooLarge)
	}
	return s.Store.Save(ctx, key, data, exp)
}

// ceilSecond rounds t up to the next whole second.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

type roundsUp struct{ *memory.Store }

func (s roundsUp) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	return s.Store.Save(ctx, key, data, ceilSecond(exp))
}

func (s roundsUp) Touch(ctx context.Context, key string, exp time.Time) error {
	return s.Store.Touch(ctx, key, ceilSecond(exp))
}

type keepsExpiry struct{ *memory.Store }

func (s keepsExpiry) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	if rec, found, _ := s.Load(ctx, key); found && exp.After(time.Now()) {
		exp = rec.Expiry
	}
	return s.Store.Save(ctx, key, data, exp)
}

type minTTL struct{ *memory.Store }

func (s minTTL) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	return s.Store.Save(ctx, key, data, later(exp, time.Now().Add(time.Minute)))
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// noExpiry deletes records saved with a past expiry but otherwise keeps
// them for a day, reporting the saved expiry without enforcing it.
type noExpiry struct {
	*memory.Store
	mu  sync.Mutex
	exp map[string]time.Time
}

func newNoExpiry(m *memory.Store) *noExpiry {
	return &noExpiry{Store: m, exp: make(map[string]time.Time)}
}

func (s *noExpiry) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	s.mu.Lock()
	s.exp[key] = exp
	s.mu.Unlock()
	if exp.After(time.Now()) {
		exp = time.Now().Add(24 * time.Hour)
	}
	return s.Store.Save(ctx, key, data, exp)
}

func (s *noExpiry) Load(ctx context.Context, key string) (core.Record, bool, error) {
	rec, found, err := s.Store.Load(ctx, key)
	s.mu.Lock()
	rec.Expiry = s.exp[key]
	s.mu.Unlock()
	return rec, found, err
}

type deleteNoop struct{ *memory.Store }

func (deleteNoop) Delete(context.Context, string) error { return nil }

type deleteMissingErr struct{ *memory.Store }

func (s deleteMissingErr) Delete(ctx context.Context, key string) error {
	if _, found, _ := s.Load(ctx, key); !found {
		return errors.New("no such record")
	}
	return s.Store.Delete(ctx, key)
}

// oneSlotKey is where oneSlot keeps every record.
const oneSlotKey = "0000000000000000000000000000000000000000000000000000000000000000"

type oneSlot struct{ *memory.Store }

func (s oneSlot) Load(ctx context.Context, _ string) (core.Record, bool, error) {
	return s.Store.Load(ctx, oneSlotKey)
}

func (s oneSlot) Save(ctx context.Context, _ string, data []byte, exp time.Time) error {
	return s.Store.Save(ctx, oneSlotKey, data, exp)
}

func (s oneSlot) Delete(ctx context.Context, _ string) error { return s.Store.Delete(ctx, oneSlotKey) }

// anyKey keeps records under invalid keys in a map of its own.
type anyKey struct {
	*memory.Store
	mu    sync.Mutex
	other map[string][]byte
}

func newAnyKey(m *memory.Store) *anyKey { return &anyKey{Store: m, other: make(map[string][]byte)} }

func (s *anyKey) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	if core.ValidKey(key) {
		return s.Store.Save(ctx, key, data, exp)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.other[key] = append([]byte(nil), data...)
	return nil
}

func (s *anyKey) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if core.ValidKey(key) {
		return s.Store.Load(ctx, key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.other[key]
	return core.Record{Data: append([]byte(nil), data...), Expiry: time.Now().Add(time.Hour)}, ok, nil
}

type panicky struct{ *memory.Store }

func (s panicky) Load(ctx context.Context, key string) (core.Record, bool, error) {
	_ = key[63] // assumes the key shape instead of checking it
	return s.Store.Load(ctx, key)
}

type lowercasing struct{ *memory.Store }

func (s lowercasing) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	return s.Store.Save(ctx, strings.ToLower(key), data, exp)
}

type ignoresCtx struct{ *memory.Store }

func (s ignoresCtx) Load(_ context.Context, key string) (core.Record, bool, error) {
	return s.Store.Load(context.Background(), key)
}

func (s ignoresCtx) Save(_ context.Context, key string, data []byte, exp time.Time) error {
	return s.Store.Save(context.Background(), key, data, exp)
}

func (s ignoresCtx) Delete(_ context.Context, key string) error {
	return s.Store.Delete(context.Background(), key)
}

func (s ignoresCtx) Touch(_ context.Context, key string, exp time.Time) error {
	return s.Store.Touch(context.Background(), key, exp)
}

func (s ignoresCtx) CompareAndSwap(_ context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	return s.Store.CompareAndSwap(context.Background(), key, v, data, exp)
}

func (s ignoresCtx) Iterate(_ context.Context, fn func(string) bool) error {
	return s.Store.Iterate(context.Background(), fn)
}

func (s ignoresCtx) DeleteExpired(context.Context) (int, error) {
	return s.Store.DeleteExpired(context.Background())
}

// cancelOnly sees a cancelled context but not a passed deadline.
type cancelOnly struct{ ignoresCtx }

func (s cancelOnly) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return core.Record{}, false, ctx.Err()
	}
	return s.ignoresCtx.Load(ctx, key)
}

func (s cancelOnly) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return s.ignoresCtx.Save(ctx, key, data, exp)
}

func (s cancelOnly) Delete(ctx context.Context, key string) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return s.ignoresCtx.Delete(ctx, key)
}

// ctxUnwrapped fails on a done context with an error that hides ctx.Err().
type ctxUnwrapped struct{ *memory.Store }

func (s ctxUnwrapped) Load(ctx context.Context, key string) (core.Record, bool, error) {
	rec, found, err := s.Store.Load(ctx, key)
	if err != nil {
		err = fmt.Errorf("load failed: %v", err)
	}
	return rec, found, err
}

type writesFirst struct{ *memory.Store }

func (s writesFirst) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	if err := s.Store.Save(context.Background(), key, data, exp); err != nil {
		return err
	}
	return ctx.Err()
}

type touchNoop struct{ *memory.Store }

func (touchNoop) Touch(context.Context, string, time.Time) error { return nil }

type touchClears struct{ *memory.Store }

func (s touchClears) Touch(ctx context.Context, key string, exp time.Time) error {
	if _, found, err := s.Load(ctx, key); err != nil || !found {
		return err
	}
	return s.Save(ctx, key, nil, exp)
}

type touchCreates struct{ *memory.Store }

func (s touchCreates) Touch(ctx context.Context, key string, exp time.Time) error {
	if _, found, err := s.Load(ctx, key); err != nil || !found {
		return s.Save(ctx, key, nil, exp)
	}
	return s.Store.Touch(ctx, key, exp)
}

// casSave saves and returns the version the record now has.
func casSave(ctx context.Context, m *memory.Store, key string, data []byte, exp time.Time) (uint64, error) {
	if err := m.Save(ctx, key, data, exp); err != nil {
		return 0, err
	}
	rec, _, err := m.Load(ctx, key)
	return rec.Version, err
}

type casBlind struct{ *memory.Store }

func (s casBlind) CompareAndSwap(ctx context.Context, key string, _ uint64, data []byte, exp time.Time) (uint64, error) {
	return casSave(ctx, s.Store, key, data, exp)
}

type casSameVersion struct{ *memory.Store }

func (s casSameVersion) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	nv, err := s.Store.CompareAndSwap(ctx, key, v, data, exp)
	if err == nil && v != 0 {
		return v, nil
	}
	return nv, err
}

type zeroVersion struct{ *memory.Store }

func (s zeroVersion) Load(ctx context.Context, key string) (core.Record, bool, error) {
	rec, found, err := s.Store.Load(ctx, key)
	rec.Version = 0
	return rec, found, err
}

// sideVersion keeps versions of its own, and forgets to change them on Save.
type sideVersion struct {
	*memory.Store
	mu   sync.Mutex
	next uint64
	vers map[string]uint64
}

func newSideVersion(m *memory.Store) *sideVersion {
	return &sideVersion{Store: m, vers: make(map[string]uint64)}
}

func (s *sideVersion) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vers[key] == 0 {
		s.next++
		s.vers[key] = s.next
	}
	return s.Store.Save(ctx, key, data, exp)
}

func (s *sideVersion) Load(ctx context.Context, key string) (core.Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, found, err := s.Store.Load(ctx, key)
	if found {
		rec.Version = s.vers[key]
	}
	return rec, found, err
}

func (s *sideVersion) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.vers, key)
	return s.Store.Delete(ctx, key)
}

func (s *sideVersion) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur uint64
	if _, found, _ := s.Store.Load(ctx, key); found {
		cur = s.vers[key]
	}
	if cur != v {
		return 0, core.ErrConflict
	}
	if err := s.Store.Save(ctx, key, data, exp); err != nil {
		return 0, err
	}
	s.next++
	s.vers[key] = s.next
	return s.next, nil
}

type casHalfWrite struct{ *memory.Store }

func (s casHalfWrite) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	_ = s.Touch(ctx, key, exp)
	return s.Store.CompareAndSwap(ctx, key, v, data, exp)
}

type casRecreates struct{ *memory.Store }

func (s casRecreates) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	if _, found, _ := s.Load(ctx, key); !found {
		v = 0
	}
	return s.Store.CompareAndSwap(ctx, key, v, data, exp)
}

// casKeepsPast treats a past expiry in CompareAndSwap as "keep it for a
// minute" instead of a delete.
type casKeepsPast struct{ *memory.Store }

func (s casKeepsPast) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	if !exp.After(time.Now()) {
		exp = time.Now().Add(time.Minute)
	}
	return s.Store.CompareAndSwap(ctx, key, v, data, exp)
}

type casTwoStep struct{ *memory.Store }

func (s casTwoStep) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	rec, _, err := s.Load(ctx, key)
	if err != nil {
		return 0, err
	}
	if rec.Version != v {
		return 0, core.ErrConflict
	}
	time.Sleep(time.Millisecond) // the window another writer slips through
	return casSave(ctx, s.Store, key, data, exp)
}

// iterAll lists every key ever saved.
type iterAll struct {
	*memory.Store
	mu   sync.Mutex
	seen []string
}

func newIterAll(m *memory.Store) *iterAll { return &iterAll{Store: m} }

func (s *iterAll) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	s.mu.Lock()
	s.seen = append(s.seen, key)
	s.mu.Unlock()
	return s.Store.Save(ctx, key, data, exp)
}

func (s *iterAll) Iterate(_ context.Context, fn func(string) bool) error {
	s.mu.Lock()
	keys := append([]string(nil), s.seen...)
	s.mu.Unlock()
	for _, k := range keys {
		if !fn(k) {
			return nil
		}
	}
	return nil
}

type iterNoStop struct{ *memory.Store }

func (s iterNoStop) Iterate(ctx context.Context, fn func(string) bool) error {
	return s.Store.Iterate(ctx, func(k string) bool { fn(k); return true })
}

// iterLocked holds one mutex for every call, Iterate's fn included: a
// store call from fn deadlocks.
type iterLocked struct {
	*memory.Store
	mu sync.Mutex
}

func (s *iterLocked) Load(ctx context.Context, key string) (core.Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Store.Load(ctx, key)
}

func (s *iterLocked) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Store.Delete(ctx, key)
}

func (s *iterLocked) Iterate(ctx context.Context, fn func(string) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Store.Iterate(ctx, fn)
}

type delAll struct{ *memory.Store }

func (s delAll) DeleteExpired(ctx context.Context) (int, error) {
	var keys []string
	_ = s.Iterate(ctx, func(k string) bool { keys = append(keys, k); return true })
	for _, k := range keys {
		_ = s.Delete(ctx, k)
	}
	return len(keys), nil
}

type delNoop struct{ *memory.Store }

func (delNoop) DeleteExpired(context.Context) (int, error) { return 0, nil }

type delMiscounts struct{ *memory.Store }

func (s delMiscounts) DeleteExpired(ctx context.Context) (int, error) {
	_, err := s.Store.DeleteExpired(ctx)
	return 0, err
}

// dropsDeletes silently ignores every 1000th Delete, as a store that loses
// a request now and then (a dropped packet, a swallowed error) would.
type dropsDeletes struct {
	*memory.Store
	n atomic.Int64
}

func (s *dropsDeletes) Delete(ctx context.Context, key string) error {
	if s.n.Add(1)%1000 == 0 {
		return nil
	}
	return s.Store.Delete(ctx, key)
}

// truncKeys keeps each record under the first n characters of its key
// (padded back to a valid key), confusing keys that share that prefix.
type truncKeys struct {
	*memory.Store
	n int
}

func (s truncKeys) k(key string) string {
	if !core.ValidKey(key) {
		return key
	}
	return key[:s.n] + strings.Repeat("0", 64-s.n)
}

func (s truncKeys) Load(ctx context.Context, key string) (core.Record, bool, error) {
	return s.Store.Load(ctx, s.k(key))
}

func (s truncKeys) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	return s.Store.Save(ctx, s.k(key), data, exp)
}

func (s truncKeys) Delete(ctx context.Context, key string) error {
	return s.Store.Delete(ctx, s.k(key))
}

// tailKeys keeps each record under the last 32 characters of its key,
// confusing keys that differ only in their first half.
type tailKeys struct{ *memory.Store }

func (s tailKeys) k(key string) string {
	if !core.ValidKey(key) {
		return key
	}
	return strings.Repeat("0", 32) + key[32:]
}

func (s tailKeys) Load(ctx context.Context, key string) (core.Record, bool, error) {
	return s.Store.Load(ctx, s.k(key))
}

func (s tailKeys) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	return s.Store.Save(ctx, s.k(key), data, exp)
}

func (s tailKeys) Delete(ctx context.Context, key string) error { return s.Store.Delete(ctx, s.k(key)) }

// touchRevives remembers the data last saved under each key and, when
// Touch finds the record expired, saves it again: a store whose server-side
// TTL is extended without checking the record's own expiry.
type touchRevives struct {
	*memory.Store
	mu   sync.Mutex
	data map[string][]byte
}

func newTouchRevives(m *memory.Store) *touchRevives {
	return &touchRevives{Store: m, data: make(map[string][]byte)}
}

func (s *touchRevives) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	s.mu.Lock()
	s.data[key] = bytes.Clone(data)
	s.mu.Unlock()
	return s.Store.Save(ctx, key, data, exp)
}

func (s *touchRevives) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	delete(s.data, key)
	s.mu.Unlock()
	return s.Store.Delete(ctx, key)
}

func (s *touchRevives) Touch(ctx context.Context, key string, exp time.Time) error {
	err := s.Store.Touch(ctx, key, exp)
	s.mu.Lock()
	data, ok := s.data[key]
	s.mu.Unlock()
	if errors.Is(err, core.ErrNotFound) && ok {
		return s.Store.Save(ctx, key, data, exp)
	}
	return err
}

// touchGivesUp fails Touch with an error that is not core.ErrConflict when
// the record changed while it worked, like a read-modify-write Touch that
// gives up after losing to writers.
type touchGivesUp struct{ *memory.Store }

func (s touchGivesUp) Touch(ctx context.Context, key string, exp time.Time) error {
	before, _, err := s.Load(ctx, key)
	if err != nil {
		return err
	}
	time.Sleep(time.Millisecond) // the window concurrent writers use
	after, _, err := s.Load(ctx, key)
	if err != nil {
		return err
	}
	if after.Version != before.Version {
		return errors.New("record kept changing")
	}
	return s.Store.Touch(ctx, key, exp)
}

// casRevivesExpired remembers the version each key last had and accepts a
// CompareAndSwap at that version even after the record expired, writing it
// as a new record: a store comparing versions without checking expiry.
type casRevivesExpired struct {
	*memory.Store
	mu   sync.Mutex
	vers map[string]uint64
}

func newCASRevivesExpired(m *memory.Store) *casRevivesExpired {
	return &casRevivesExpired{Store: m, vers: make(map[string]uint64)}
}

func (s *casRevivesExpired) Load(ctx context.Context, key string) (core.Record, bool, error) {
	rec, found, err := s.Store.Load(ctx, key)
	if found {
		s.mu.Lock()
		s.vers[key] = rec.Version
		s.mu.Unlock()
	}
	return rec, found, err
}

func (s *casRevivesExpired) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	delete(s.vers, key)
	s.mu.Unlock()
	return s.Store.Delete(ctx, key)
}

func (s *casRevivesExpired) CompareAndSwap(ctx context.Context, key string, v uint64, data []byte, exp time.Time) (uint64, error) {
	nv, err := s.Store.CompareAndSwap(ctx, key, v, data, exp)
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, core.ErrConflict) && v != 0 && s.vers[key] == v {
		if _, found, _ := s.Store.Load(ctx, key); !found {
			nv, err = s.Store.CompareAndSwap(ctx, key, 0, data, exp)
		}
	}
	if err == nil {
		s.vers[key] = nv
	}
	return nv, err
}

// reusesBuffer returns every loaded record in one buffer it reuses, as a
// store with a pooled read buffer would: the next Load overwrites what
// the previous one returned.
type reusesBuffer struct {
	*memory.Store
	mu  sync.Mutex
	buf []byte
}

func (s *reusesBuffer) Load(ctx context.Context, key string) (core.Record, bool, error) {
	rec, found, err := s.Store.Load(ctx, key)
	if !found || err != nil {
		return rec, found, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf[:0], rec.Data...)
	rec.Data = s.buf
	return rec, true, nil
}

// dropsShortLived does not keep a record that Save is asked to keep for
// less than a minute.
type dropsShortLived struct{ *memory.Store }

func (s dropsShortLived) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if time.Until(expiry) < time.Minute {
		return nil
	}
	return s.Store.Save(ctx, key, data, expiry)
}

// slowFirstLoad is a correct store on a machine that stalls once: the
// first Load of all the stores sharing loads returns only after stall.
type slowFirstLoad struct {
	*memory.Store
	stall time.Duration
	loads *atomic.Int64
}

func (s slowFirstLoad) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if s.loads.Add(1) == 1 {
		time.Sleep(s.stall)
	}
	return s.Store.Load(ctx, key)
}

// TestLateCheckRunsAgain stalls the first Load of a correct store past
// the expiry of the record it reads: the checks that wait for expiry must
// run again with a longer lead instead of reporting the store.
func TestLateCheckRunsAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for records to expire")
	}
	stall := storeLead(t.Context(), StoreOptions{}) + 200*time.Millisecond
	for _, name := range []string{"Expiry/AfterWait", "ExpiredDeleter/RemovesExpired", "Toucher/Expired"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g, c, ok := storeFindCheck(name)
			if !ok {
				t.Fatalf("no check named %q", name)
			}
			var loads atomic.Int64
			newStore := func(t *testing.T) core.Store {
				return slowFirstLoad{Store: brokenMem(t), stall: stall, loads: &loads}
			}
			if err := c.run(t.Context(), newStore(t), StoreOptions{}); !errors.Is(err, errLate) {
				t.Fatalf("first run with a stalled Load: %v, want an error marked errLate", err)
			}
			loads.Store(0)
			storeRunCheck(t, newStore, g, c, StoreOptions{})
			if n := loads.Load(); n < 2 {
				t.Errorf("%d loads: the check did not run again", n)
			}
		})
	}
}
