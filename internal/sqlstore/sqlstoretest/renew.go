package sqlstoretest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// RenewStore is what the renew tests need of a SQL store.
type RenewStore interface {
	UserStore
	core.Renewer
}

// RenewHarness describes a store with core.Renewer to RunRenew.
type RenewHarness struct {
	// New returns a store on a fresh, created table, cleaned up when t
	// ends.
	New func(t *testing.T) RenewStore
	// ExpireAll moves the expiry of every row of s's table into the
	// past, as the passing of time would.
	ExpireAll func(t *testing.T, s RenewStore)
	// Count returns the number of rows in s's table.
	Count func(t *testing.T, s RenewStore) int
	// NoDelete is set for a store whose Renew cannot delete the old row:
	// a renew with a nil marker, or one already expired, must then fail
	// with core.ErrNotSupported and change nothing.
	NoDelete bool
	// Other, when set, returns another store on s's table with its own
	// connections, as another process would have: the concurrency tests
	// then spread their calls over both.
	Other func(t *testing.T, s RenewStore) RenewStore
}

// instances returns s, and the other store on its table when h has one.
func (h RenewHarness) instances(t *testing.T, s RenewStore) []RenewStore {
	if h.Other == nil {
		return []RenewStore{s}
	}
	return []RenewStore{s, h.Other(t, s)}
}

// RunRenew runs the tests of Renew as subtests of t: each outcome of one
// renew, checked row by row (rows left in the table included), and the
// races that its single atomic step must settle.
func RunRenew(t *testing.T, h RenewHarness) {
	tests := []struct {
		name string
		f    func(*testing.T, RenewHarness)
	}{
		{"Success", testRenewSuccess},
		{"Conflicts", testRenewConflicts},
		{"ExpiredNewRowReplaced", testRenewExpiredNewRow},
		{"Deletes", testRenewDeletes},
		{"NoUser", testRenewNoUser},
		{"Until", testRenewUntil},
		{"Invalid", testRenewInvalid},
		{"BinaryData", testRenewBinaryData},
		{"ConcurrentRenews", testRenewConcurrentRenews},
		{"RacesCompareAndSwap", testRenewRacesCompareAndSwap},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, h) })
	}
}

// renewFixture is an old record filed under alice, and a renewal of it.
type renewFixture struct {
	s   RenewStore
	r   core.Renewal
	exp time.Time
}

// newRenewFixture creates the old record (data "old", filed under alice)
// and returns the renewal that moves it to a new key under bob, retiring
// it with a marker.
func newRenewFixture(t *testing.T, h RenewHarness) *renewFixture {
	t.Helper()
	s := h.New(t)
	exp := time.Now().Add(time.Hour)
	old := Key("old")
	v, err := s.CompareAndSwapUser(context.Background(), old, 0, []byte("old"), exp, "alice", exp)
	if err != nil {
		t.Fatal(err)
	}
	return &renewFixture{s: s, exp: exp, r: core.Renewal{
		OldKey: old, OldVersion: v,
		Retired: []byte("retired"), RetiredExpiry: time.Now().Add(30 * time.Second),
		NewKey: Key("new"), Data: []byte("new"), Expiry: exp,
		User: "bob", Until: exp,
	}}
}

// record returns the live record under key (found false if none).
func record(t testing.TB, s core.Store, key string) (core.Record, bool) {
	t.Helper()
	rec, ok, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	return rec, ok
}

// unchanged checks that a lost renew changed nothing: the old record
// loads as before and is filed under alice, the new key holds newData
// ("<none>": nothing) and bob has no session.
func (f *renewFixture) unchanged(t *testing.T, before core.Record, newData string) {
	t.Helper()
	if rec, ok := record(t, f.s, f.r.OldKey); !ok || string(rec.Data) != string(before.Data) || rec.Version != before.Version || !rec.Expiry.Equal(before.Expiry) {
		t.Errorf("old record after a lost Renew = %q version %d expiry %v (found %v), want %q version %d expiry %v",
			rec.Data, rec.Version, rec.Expiry, ok, before.Data, before.Version, before.Expiry)
	}
	if got := loadString(t, f.s, f.r.NewKey); got != newData {
		t.Errorf("new key after a lost Renew = %q, want %q", got, newData)
	}
	wantKeys(t, f.s, "bob")
}

func testRenewSuccess(t *testing.T, h RenewHarness) {
	f := newRenewFixture(t, h)
	ctx := context.Background()
	v, err := f.s.Renew(ctx, f.r)
	if err != nil || v == 0 {
		t.Fatalf("Renew = %d, %v; want a version", v, err)
	}
	rec, ok := record(t, f.s, f.r.NewKey)
	if !ok || string(rec.Data) != "new" || rec.Version != v || rec.Expiry.After(f.r.Expiry) || f.r.Expiry.Sub(rec.Expiry) >= time.Second {
		t.Errorf("Load(new) = %q version %d expiry %v (found %v), want %q version %d expiry %v",
			rec.Data, rec.Version, rec.Expiry, ok, "new", v, f.r.Expiry)
	}
	old, ok := record(t, f.s, f.r.OldKey)
	if !ok || string(old.Data) != "retired" || old.Version == f.r.OldVersion || old.Expiry.After(f.r.RetiredExpiry) || f.r.RetiredExpiry.Sub(old.Expiry) >= time.Second {
		t.Errorf("Load(old) = %q version %d expiry %v (found %v), want the marker %q until %v at a new version",
			old.Data, old.Version, old.Expiry, ok, "retired", f.r.RetiredExpiry)
	}
	// The new key is filed under bob, the marker under nobody.
	wantKeys(t, f.s, "bob", f.r.NewKey)
	wantKeys(t, f.s, "alice")
	if n := h.Count(t, f.s); n != 2 {
		t.Errorf("%d rows after Renew, want 2 (the new record and the marker)", n)
	}
	// The successor is an ordinary record at version v.
	if _, err := f.s.CompareAndSwap(ctx, f.r.NewKey, v, []byte("next"), f.exp); err != nil {
		t.Errorf("CompareAndSwap(new, the version Renew returned) = %v", err)
	}
	// Renewing the same version again is a conflict.
	again := f.r
	again.NewKey = Key("other")
	if _, err := f.s.Renew(ctx, again); !errors.Is(err, core.ErrConflict) {
		t.Errorf("Renew of the old version again = %v, want ErrConflict", err)
	}
	if got := loadString(t, f.s, again.NewKey); got != "<none>" {
		t.Errorf("Load(other new key) after the lost Renew = %q, want nothing", got)
	}
}

// testRenewConflicts checks each conflict, both for a renew that retires
// the old row and (unless NoDelete) for one that deletes it: the error is
// core.ErrConflict and nothing changed.
func testRenewConflicts(t *testing.T, h RenewHarness) {
	modes := []struct {
		name    string
		retired []byte
	}{{"Retire", []byte("retired")}, {"Delete", nil}}
	if h.NoDelete {
		modes = modes[:1]
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { testRenewConflictsOf(t, h, m.retired) })
	}
}

func testRenewConflictsOf(t *testing.T, h RenewHarness, retired []byte) {
	newFixture := func(t *testing.T) *renewFixture {
		f := newRenewFixture(t, h)
		f.r.Retired = retired
		return f
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, f *renewFixture) (newData string)
	}{
		{"StaleVersion", func(t *testing.T, f *renewFixture) string {
			f.r.OldVersion++
			return "<none>"
		}},
		{"VersionZero", func(t *testing.T, f *renewFixture) string {
			f.r.OldVersion = 0
			return "<none>"
		}},
		{"LiveNewKey", func(t *testing.T, f *renewFixture) string {
			if _, err := f.s.CompareAndSwap(ctx, f.r.NewKey, 0, []byte("taken"), f.exp); err != nil {
				t.Fatal(err)
			}
			return "taken"
		}},
		{"SameKey", func(t *testing.T, f *renewFixture) string {
			f.r.NewKey = f.r.OldKey
			return "old"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			before, _ := record(t, f.s, f.r.OldKey)
			newData := tc.prepare(t, f)
			if v, err := f.s.Renew(ctx, f.r); !errors.Is(err, core.ErrConflict) {
				t.Fatalf("Renew = %d, %v; want ErrConflict", v, err)
			}
			if tc.name != "SameKey" {
				f.unchanged(t, before, newData)
			} else if rec, _ := record(t, f.s, f.r.OldKey); string(rec.Data) != "old" || rec.Version != before.Version {
				t.Errorf("record after Renew to its own key = %q version %d, want it unchanged", rec.Data, rec.Version)
			}
			wantKeys(t, f.s, "alice", f.r.OldKey)
		})
	}
	t.Run("Deleted", func(t *testing.T) {
		f := newFixture(t)
		if err := f.s.Delete(ctx, f.r.OldKey); err != nil {
			t.Fatal(err)
		}
		if v, err := f.s.Renew(ctx, f.r); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("Renew of a deleted record = %d, %v; want ErrConflict", v, err)
		}
		if n := h.Count(t, f.s); n != 0 {
			t.Errorf("%d rows after a lost Renew of a deleted record, want none", n)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		f := newFixture(t)
		h.ExpireAll(t, f.s)
		if v, err := f.s.Renew(ctx, f.r); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("Renew of an expired record = %d, %v; want ErrConflict", v, err)
		}
		if got := loadString(t, f.s, f.r.NewKey); got != "<none>" {
			t.Errorf("new key after a lost Renew = %q, want nothing", got)
		}
		if n := h.Count(t, f.s); n != 1 {
			t.Errorf("%d rows after a lost Renew of an expired record, want 1 (the expired row)", n)
		}
	})
}

// testRenewExpiredNewRow checks that an expired row under the new key is
// replaced, as by a compare-and-swap create: its filing goes with it.
func testRenewExpiredNewRow(t *testing.T, h RenewHarness) {
	s := h.New(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	newKey, old := Key("new"), Key("old")
	if _, err := s.CompareAndSwapUser(ctx, newKey, 0, []byte("dead"), exp, "carol", exp); err != nil {
		t.Fatal(err)
	}
	h.ExpireAll(t, s)
	v, err := s.CompareAndSwapUser(ctx, old, 0, []byte("old"), exp, "alice", exp)
	if err != nil {
		t.Fatal(err)
	}
	nv, err := s.Renew(ctx, core.Renewal{OldKey: old, OldVersion: v, Retired: []byte("retired"), RetiredExpiry: exp,
		NewKey: newKey, Data: []byte("new"), Expiry: exp, User: "bob", Until: exp})
	if err != nil {
		t.Fatalf("Renew onto an expired row = %v", err)
	}
	if rec, ok := record(t, s, newKey); !ok || string(rec.Data) != "new" || rec.Version != nv {
		t.Errorf("Load(new) = %q version %d (found %v), want %q version %d", rec.Data, rec.Version, ok, "new", nv)
	}
	wantKeys(t, s, "bob", newKey)
	wantKeys(t, s, "carol")
}

// testRenewDeletes checks that a nil marker, or one whose expiry is not in
// the future, deletes the old row rather than leaving one behind (or, with
// NoDelete, that such a renew is not supported and changes nothing).
func testRenewDeletes(t *testing.T, h RenewHarness) {
	for _, tc := range []struct {
		name    string
		retired []byte
		expiry  time.Time
	}{
		{"NilRetired", nil, time.Now().Add(time.Hour)},
		{"PastRetiredExpiry", []byte("retired"), time.Now().Add(-time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRenewFixture(t, h)
			f.r.Retired, f.r.RetiredExpiry = tc.retired, tc.expiry
			if h.NoDelete {
				before, _ := record(t, f.s, f.r.OldKey)
				if _, err := f.s.Renew(context.Background(), f.r); !errors.Is(err, core.ErrNotSupported) {
					t.Fatalf("Renew = %v, want ErrNotSupported", err)
				}
				f.unchanged(t, before, "<none>")
				return
			}
			if _, err := f.s.Renew(context.Background(), f.r); err != nil {
				t.Fatalf("Renew = %v", err)
			}
			if got := loadString(t, f.s, f.r.OldKey); got != "<none>" {
				t.Errorf("Load(old) = %q, want nothing", got)
			}
			if got := loadString(t, f.s, f.r.NewKey); got != "new" {
				t.Errorf("Load(new) = %q, want %q", got, "new")
			}
			if n := h.Count(t, f.s); n != 1 {
				t.Errorf("%d rows after Renew, want 1: the old row deleted", n)
			}
			wantKeys(t, f.s, "alice")
			wantKeys(t, f.s, "bob", f.r.NewKey)
		})
	}
}

// testRenewNoUser checks that user "" files the new row under no user.
func testRenewNoUser(t *testing.T, h RenewHarness) {
	f := newRenewFixture(t, h)
	f.r.User, f.r.Until = "alice", f.exp
	// First a renew that keeps alice, then one to no user.
	v, err := f.s.Renew(context.Background(), f.r)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys(t, f.s, "alice", f.r.NewKey)
	next := core.Renewal{OldKey: f.r.NewKey, OldVersion: v, Retired: []byte("retired"), RetiredExpiry: f.exp,
		NewKey: Key("third"), Data: []byte("third"), Expiry: f.exp}
	if _, err := f.s.Renew(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, f.s, "alice")
	if got := loadString(t, f.s, next.NewKey); got != "third" {
		t.Errorf("Load(third) = %q", got)
	}
}

// testRenewUntil checks that the new row's filing ends at r.Until, not
// with the row.
func testRenewUntil(t *testing.T, h RenewHarness) {
	f := newRenewFixture(t, h)
	f.r.Until = time.Now().Add(-time.Second)
	if _, err := f.s.Renew(context.Background(), f.r); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, f.s, "bob") // the filing has ended, though the row lives
	if got := loadString(t, f.s, f.r.NewKey); got != "new" {
		t.Errorf("Load(new) = %q, want %q", got, "new")
	}
}

func testRenewInvalid(t *testing.T, h RenewHarness) {
	f := newRenewFixture(t, h)
	before, _ := record(t, f.s, f.r.OldKey)
	for _, tc := range []struct {
		name   string
		change func(r *core.Renewal)
		want   error
	}{
		{"OldKey", func(r *core.Renewal) { r.OldKey = "../x" }, core.ErrInvalidKey},
		{"NewKey", func(r *core.Renewal) { r.NewKey = "../x" }, core.ErrInvalidKey},
		{"Cancelled", nil, context.Canceled},
	} {
		r := f.r
		ctx, cancel := context.WithCancel(context.Background())
		if tc.change != nil {
			tc.change(&r)
		} else {
			cancel()
		}
		if _, err := f.s.Renew(ctx, r); !errors.Is(err, tc.want) {
			t.Errorf("Renew(%s) = %v, want %v", tc.name, err, tc.want)
		}
		cancel()
	}
	f.unchanged(t, before, "<none>")
}

// testRenewBinaryData checks that the data and the marker keep every
// byte value, and that empty data stays empty (not NULL).
func testRenewBinaryData(t *testing.T, h RenewHarness) {
	f := newRenewFixture(t, h)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	f.r.Data, f.r.Retired = all, append([]byte{0xff, 0}, all[:128]...)
	v, err := f.s.Renew(context.Background(), f.r)
	if err != nil {
		t.Fatal(err)
	}
	if got := loadString(t, f.s, f.r.NewKey); got != string(f.r.Data) {
		t.Errorf("Load(new) = %q, want every byte value", got)
	}
	if got := loadString(t, f.s, f.r.OldKey); got != string(f.r.Retired) {
		t.Errorf("Load(old) = %q, want the binary marker", got)
	}
	next := core.Renewal{OldKey: f.r.NewKey, OldVersion: v, Retired: []byte{}, RetiredExpiry: f.exp,
		NewKey: Key("third"), Data: nil, Expiry: f.exp}
	if _, err := f.s.Renew(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{next.OldKey, next.NewKey} {
		if rec, ok := record(t, f.s, k); !ok || rec.Data == nil || len(rec.Data) != 0 {
			t.Errorf("Load after Renew with empty data = %#v (found %v), want empty non-nil data", rec.Data, ok)
		}
	}
}

// testRenewConcurrentRenews has several goroutines renew one version of a
// record, each to its own new key, round after round: exactly one wins,
// and only its new key exists.
func testRenewConcurrentRenews(t *testing.T, h RenewHarness) {
	const rounds, goroutines = 20, 8
	s := h.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exp := time.Now().Add(time.Hour)
	old := Key("round")
	v, err := s.CompareAndSwapUser(ctx, old, 0, []byte("0"), exp, "alice", exp)
	if err != nil {
		t.Fatal(err)
	}
	all := h.instances(t, s)
	for round := range rounds {
		var (
			mu     sync.Mutex
			winner = -1
			wg     sync.WaitGroup
			start  = make(chan struct{})
			newV   uint64
		)
		for g := range goroutines {
			wg.Go(func() {
				<-start
				nv, err := all[g%len(all)].Renew(ctx, core.Renewal{
					OldKey: old, OldVersion: v, Retired: []byte("retired"), RetiredExpiry: exp,
					NewKey: Key(fmt.Sprint(round, "/", g)), Data: []byte(fmt.Sprint(g)), Expiry: exp,
					User: "alice", Until: exp,
				})
				if errors.Is(err, core.ErrConflict) {
					return
				}
				if err != nil {
					t.Errorf("Renew = %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if winner >= 0 {
					t.Errorf("round %d: renews %d and %d of one version both won", round, winner, g)
				}
				winner, newV = g, nv
			})
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			return
		}
		if winner < 0 {
			t.Fatalf("round %d: no renew won", round)
		}
		for g := range goroutines {
			want := "<none>"
			if g == winner {
				want = fmt.Sprint(g)
			}
			if got := loadString(t, s, Key(fmt.Sprint(round, "/", g))); got != want {
				t.Errorf("round %d: new key %d holds %q, want %q", round, g, got, want)
			}
		}
		wantKeys(t, s, "alice", Key(fmt.Sprint(round, "/", winner)))
		old, v = Key(fmt.Sprint(round, "/", winner)), newV
	}
	if n := h.Count(t, s); n != rounds+1 {
		t.Errorf("%d rows after %d rounds, want %d: a marker per round and the last record", n, rounds, rounds+1)
	}
}

// testRenewRacesCompareAndSwap races a renew of a record with a
// compare-and-swap of the same version, round after round: exactly one of
// them wins, and the rows show which.
func testRenewRacesCompareAndSwap(t *testing.T, h RenewHarness) {
	const rounds = 40
	s := h.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exp := time.Now().Add(time.Hour)
	wins := [2]int{}
	all := h.instances(t, s)
	for round := range rounds {
		old, newKey := Key(fmt.Sprint("old", round)), Key(fmt.Sprint("new", round))
		v, err := s.CompareAndSwap(ctx, old, 0, []byte("old"), exp)
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg                 sync.WaitGroup
			start              = make(chan struct{})
			renewErr, swapErr  error
			renewedV, swappedV uint64
		)
		wg.Go(func() {
			<-start
			renewedV, renewErr = all[round%len(all)].Renew(ctx, core.Renewal{OldKey: old, OldVersion: v, Retired: []byte("retired"), RetiredExpiry: exp,
				NewKey: newKey, Data: []byte("new"), Expiry: exp})
		})
		wg.Go(func() {
			<-start
			swappedV, swapErr = all[(round+1)%len(all)].CompareAndSwap(ctx, old, v, []byte("swapped"), exp)
		})
		close(start)
		wg.Wait()
		for _, err := range []error{renewErr, swapErr} {
			if err != nil && !errors.Is(err, core.ErrConflict) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		switch {
		case renewErr == nil && swapErr == nil:
			t.Fatalf("round %d: Renew and CompareAndSwap of version %d both won", round, v)
		case renewErr != nil && swapErr != nil:
			t.Fatalf("round %d: Renew and CompareAndSwap of version %d both lost", round, v)
		case renewErr == nil:
			wins[0]++
			if rec, _ := record(t, s, newKey); string(rec.Data) != "new" || rec.Version != renewedV {
				t.Errorf("round %d: Renew won, new key = %q version %d", round, rec.Data, rec.Version)
			}
			if got := loadString(t, s, old); got != "retired" {
				t.Errorf("round %d: Renew won, old key = %q, want the marker", round, got)
			}
		default:
			wins[1]++
			if got := loadString(t, s, newKey); got != "<none>" {
				t.Errorf("round %d: CompareAndSwap won, new key = %q, want nothing", round, got)
			}
			if rec, _ := record(t, s, old); string(rec.Data) != "swapped" || rec.Version != swappedV {
				t.Errorf("round %d: CompareAndSwap won, old key = %q version %d", round, rec.Data, rec.Version)
			}
		}
	}
	t.Logf("%d rounds: Renew won %d, CompareAndSwap won %d", rounds, wins[0], wins[1])
}
