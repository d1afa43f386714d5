package redisstore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/redisstore"
)

// renewModes are the deployments where Renew works: every key in one slot.
func renewModes(t *testing.T) []userMode {
	t.Helper()
	return []userMode{
		{name: "Single", client: newClient(t, testserver.Redis(t))},
		{name: "ClusterHashTag", client: newClusterClient(t), hashTag: true},
	}
}

// dump returns the raw contents (DUMP) of each key, "" for a missing one,
// so that a test can tell that a call changed nothing.
func dump(t *testing.T, client goredis.UniversalClient, keys ...string) []string {
	t.Helper()
	out := make([]string, len(keys))
	for i, k := range keys {
		v, err := client.Dump(context.Background(), k).Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			t.Fatalf("DUMP: %v", err)
		}
		out[i] = v
	}
	return out
}

// renewFixture is a store with a record filed under alice, ready to renew.
type renewFixture struct {
	s       *redisstore.Store
	client  goredis.UniversalClient
	prefix  string
	old     string
	version uint64
	exp     time.Time
	until   time.Time
}

func newRenewFixture(t *testing.T, m userMode) *renewFixture {
	t.Helper()
	s, prefix := m.store(t)
	f := &renewFixture{s: s, client: m.client, prefix: prefix, old: newKey(),
		exp: time.Now().Add(time.Minute).Round(time.Millisecond), until: time.Now().Add(time.Hour)}
	v, err := s.CompareAndSwapUser(context.Background(), f.old, 0, []byte("old"), f.exp, "alice", f.until)
	if err != nil {
		t.Fatal(err)
	}
	f.version = v
	return f
}

// renewal returns a renewal of the fixture's record to a new key, filed
// under alice, retiring the old record for 5 seconds.
func (f *renewFixture) renewal() core.Renewal {
	return core.Renewal{
		OldKey: f.old, OldVersion: f.version,
		Retired: []byte("retired"), RetiredExpiry: time.Now().Add(5 * time.Second),
		NewKey: newKey(), Data: []byte("new"), Expiry: f.exp.Add(time.Minute),
		User: "alice", Until: f.until,
	}
}

// raw names every key a renewal of r touches, for dump.
func (f *renewFixture) raw(r core.Renewal) []string {
	return []string{f.prefix + r.OldKey, f.prefix + r.NewKey, userSet(f.prefix, "alice"), userSet(f.prefix, "bob")}
}

// conflict checks that Renew(r) fails with ErrConflict and changes none of
// the keys involved.
func (f *renewFixture) conflict(t *testing.T, r core.Renewal, why string) {
	t.Helper()
	before := dump(t, f.client, f.raw(r)...)
	if v, err := f.s.Renew(context.Background(), r); !errors.Is(err, core.ErrConflict) {
		t.Errorf("Renew with %s = %d, %v; want ErrConflict", why, v, err)
	}
	if after := dump(t, f.client, f.raw(r)...); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("Renew with %s changed the records or user sets; a conflict must change nothing", why)
	}
}

func TestRenew(t *testing.T) {
	for _, m := range renewModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			f := newRenewFixture(t, m)
			r := f.renewal()
			r.User = "bob"
			v, err := f.s.Renew(ctx, r)
			if err != nil || v == 0 {
				t.Fatalf("Renew = %d, %v; want a non-zero version", v, err)
			}
			rec, found, err := f.s.Load(ctx, r.NewKey)
			if err != nil || !found || string(rec.Data) != "new" || rec.Version != v || !rec.Expiry.Equal(r.Expiry) {
				t.Errorf("Load(new) = %q v%d %v, %v, %v; want %q v%d %v", rec.Data, rec.Version, rec.Expiry, found, err, "new", v, r.Expiry)
			}
			old, found, err := f.s.Load(ctx, r.OldKey)
			if err != nil || !found || string(old.Data) != "retired" || !old.Expiry.Equal(r.RetiredExpiry) || old.Version == f.version {
				t.Errorf("Load(old) = %q v%d %v, %v, %v; want the retired marker until %v, at a new version", old.Data, old.Version, old.Expiry, found, err, r.RetiredExpiry)
			}
			if pttl := f.client.PTTL(ctx, f.prefix+r.OldKey).Val(); pttl <= 4*time.Second || pttl > 5*time.Second {
				t.Errorf("PTTL(old) = %v, want about 5s (the retired marker's expiry)", pttl)
			}
			if pttl := f.client.PTTL(ctx, f.prefix+r.NewKey).Val(); pttl <= 115*time.Second || pttl > 2*time.Minute {
				t.Errorf("PTTL(new) = %v, want about 2m (the successor's expiry)", pttl)
			}
			// The filing moved from alice's old key to bob's new key,
			// scored min(expiry, until), and the marker is filed nowhere.
			// (Before UserKeys, which would prune a stale member.)
			if n := f.client.Exists(ctx, userSet(f.prefix, "alice")).Val(); n != 0 {
				t.Errorf("EXISTS alice's set after her only session moved to bob = %d, want 0", n)
			}
			checkKeys(t, f.s, "alice")
			checkKeys(t, f.s, "bob", r.NewKey)
			if sc, err := f.client.ZScore(ctx, userSet(f.prefix, "bob"), r.NewKey).Result(); err != nil || int64(sc) != r.Expiry.UnixMilli() {
				t.Errorf("ZSCORE(bob, new) = %v, %v; want %d (the successor's expiry)", sc, err, r.Expiry.UnixMilli())
			}
			// The successor is an ordinary filed record: CompareAndSwap
			// keeps its filing, at the version Renew returned.
			if _, err := f.s.CompareAndSwap(ctx, r.NewKey, v, []byte("newer"), r.Expiry); err != nil {
				t.Errorf("CompareAndSwap(new, the version Renew returned) = %v", err)
			}
			checkKeys(t, f.s, "bob", r.NewKey)

			// Renewing the same version again conflicts: the old record is
			// the marker now.
			again := r
			again.NewKey = newKey()
			f.conflict(t, again, "the version already renewed")
		})
	}
}

func TestRenewConflicts(t *testing.T) {
	for _, m := range renewModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()

			f := newRenewFixture(t, m)
			r := f.renewal()
			r.OldVersion++
			f.conflict(t, r, "a stale version")
			r.OldVersion = 0
			f.conflict(t, r, "version zero")

			f = newRenewFixture(t, m)
			if err := f.s.Delete(ctx, f.old); err != nil {
				t.Fatal(err)
			}
			f.conflict(t, f.renewal(), "a deleted old record")

			f = newRenewFixture(t, m)
			if _, err := f.s.CompareAndSwapUser(ctx, f.old, f.version, []byte("old"), time.Now().Add(30*time.Millisecond), "alice", f.until); err != nil {
				t.Fatal(err)
			}
			rec, _, _ := f.s.Load(ctx, f.old)
			f.version = rec.Version
			time.Sleep(60 * time.Millisecond)
			f.conflict(t, f.renewal(), "an expired old record")

			// A record whose expiry has passed but that Redis still holds
			// (its TTL outlasts it) is not live either.
			f = newRenewFixture(t, m)
			f.plant(t, f.old, f.version, time.Now().Add(-time.Second), "alice")
			f.conflict(t, f.renewal(), "an old record past its expiry that Redis still holds")

			f = newRenewFixture(t, m)
			r = f.renewal()
			if _, err := f.s.CompareAndSwap(ctx, r.NewKey, 0, []byte("taken"), f.exp); err != nil {
				t.Fatal(err)
			}
			f.conflict(t, r, "a live record under the new key")
			r = f.renewal()
			r.NewKey = r.OldKey
			f.conflict(t, r, "the old key as the new key")
			r = f.renewal()
			if err := f.client.Set(ctx, f.prefix+r.NewKey, "foreign", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			f.conflict(t, r, "a value that is not a record under the new key")
		})
	}
}

// plant writes under key a record at version whose header expires at
// expiry while Redis keeps it for a minute, filed under owner (a user
// id) unless owner is "".
func (f *renewFixture) plant(t *testing.T, key string, version uint64, expiry time.Time, owner string) {
	t.Helper()
	ctx := context.Background()
	exp := uint64(expiry.UnixNano())
	if owner != "" {
		exp |= 1 << 63
	}
	v := binary.BigEndian.AppendUint64(nil, version)
	v = binary.BigEndian.AppendUint64(v, exp)
	v = append(v, "stale"...)
	if owner != "" {
		set := userSet(f.prefix, owner)
		v = binary.BigEndian.AppendUint64(v, uint64(f.until.UnixMilli()))
		v = append(v, set[len(set)-64:]...)
		if err := f.client.ZAdd(ctx, set, goredis.Z{Score: float64(f.until.UnixMilli()), Member: key}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.client.Set(ctx, f.prefix+key, v, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestRenewRetirement(t *testing.T) {
	for _, m := range renewModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			for _, c := range []struct {
				name   string
				change func(*core.Renewal)
			}{
				{"NilRetired", func(r *core.Renewal) { r.Retired = nil }},
				{"PastRetiredExpiry", func(r *core.Renewal) { r.RetiredExpiry = time.Now().Add(-time.Second) }},
			} {
				f := newRenewFixture(t, m)
				r := f.renewal()
				c.change(&r)
				if _, err := f.s.Renew(ctx, r); err != nil {
					t.Fatalf("%s: Renew = %v", c.name, err)
				}
				if n := f.client.Exists(ctx, f.prefix+r.OldKey).Val(); n != 0 {
					t.Errorf("%s: EXISTS old after Renew = %d, want 0 (deleted)", c.name, n)
				}
				if _, found, err := f.s.Load(ctx, r.NewKey); !found || err != nil {
					t.Errorf("%s: Load(new) = %v, %v; want found", c.name, found, err)
				}
				checkKeys(t, f.s, "alice", r.NewKey)
			}
		})
	}
}

func TestRenewFiling(t *testing.T) {
	for _, m := range renewModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			// Under no user: the old key leaves alice's set, the new key
			// is filed nowhere.
			f := newRenewFixture(t, m)
			r := f.renewal()
			r.User = ""
			if _, err := f.s.Renew(ctx, r); err != nil {
				t.Fatal(err)
			}
			checkKeys(t, f.s, "alice")
			if _, err := f.s.CompareAndSwapUser(ctx, r.NewKey, 0, nil, r.Expiry, "alice", f.until); !errors.Is(err, core.ErrConflict) {
				t.Fatalf("CompareAndSwapUser(new, version 0) = %v, want ErrConflict", err)
			}
			rec, _, _ := f.s.Load(ctx, r.NewKey)
			// Filed later, the record has no previous user to leave.
			if _, err := f.s.CompareAndSwapUser(ctx, r.NewKey, rec.Version, rec.Data, r.Expiry, "bob", f.until); err != nil {
				t.Fatal(err)
			}
			checkKeys(t, f.s, "bob", r.NewKey)

			// Same user, with an until before the expiry: scored until.
			f = newRenewFixture(t, m)
			other := newKey()
			if _, err := f.s.CompareAndSwapUser(ctx, other, 0, nil, f.exp, "alice", f.until); err != nil {
				t.Fatal(err)
			}
			r = f.renewal()
			r.Until = time.Now().Add(30 * time.Second)
			if _, err := f.s.Renew(ctx, r); err != nil {
				t.Fatal(err)
			}
			checkKeys(t, f.s, "alice", other, r.NewKey)
			if sc, err := f.client.ZScore(ctx, userSet(f.prefix, "alice"), r.NewKey).Result(); err != nil || int64(sc) != r.Until.UnixMilli() {
				t.Errorf("ZSCORE(alice, new) = %v, %v; want %d (the filing's until)", sc, err, r.Until.UnixMilli())
			}
			// The record carries its filing: Delete takes it out of the set.
			if err := f.s.Delete(ctx, r.NewKey); err != nil {
				t.Fatal(err)
			}
			if _, err := f.client.ZScore(ctx, userSet(f.prefix, "alice"), r.NewKey).Result(); !errors.Is(err, goredis.Nil) {
				t.Errorf("ZSCORE(alice, new) after Delete = %v, want no member", err)
			}

			// An expired record Redis still holds under the new key is
			// replaced, and leaves its user's set.
			f = newRenewFixture(t, m)
			r = f.renewal()
			f.plant(t, r.NewKey, 1, time.Now().Add(-time.Second), "bob")
			if _, err := f.s.Renew(ctx, r); err != nil {
				t.Fatalf("Renew over an expired record = %v, want it replaced", err)
			}
			checkKeys(t, f.s, "alice", r.NewKey)
			if _, err := f.client.ZScore(ctx, userSet(f.prefix, "bob"), r.NewKey).Result(); !errors.Is(err, goredis.Nil) {
				t.Errorf("ZSCORE(bob, new) after Renew replaced bob's expired record = %v, want no member", err)
			}
		})
	}
}

// TestRenewClusterAcrossSlots: without a hash tag the keys of a renewal
// live in different slots, so Renew refuses at once, without a round trip
// and without writing anything.
func TestRenewClusterAcrossSlots(t *testing.T) {
	ctx := context.Background()
	client := newClusterClient(t)
	f := newRenewFixture(t, userMode{name: "Cluster", client: client})
	hook := &countingHook{}
	client.AddHook(hook)
	r := f.renewal()
	before := dump(t, client, f.raw(r)...)
	n := hook.n.Load()
	if v, err := f.s.Renew(ctx, r); !errors.Is(err, core.ErrNotSupported) {
		t.Errorf("Renew on a Cluster across slots = %d, %v; want ErrNotSupported", v, err)
	}
	if got := hook.n.Load() - n; got != 0 {
		t.Errorf("Renew on a Cluster across slots made %d round trips, want 0", got)
	}
	if after := dump(t, client, f.raw(r)...); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("Renew on a Cluster across slots changed the records or user sets, want nothing written")
	}
}

// TestRenewConcurrent renews one loaded version from many goroutines, each
// to its own new key: exactly one wins, and only its successor exists.
func TestRenewConcurrent(t *testing.T) {
	for _, m := range renewModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			for range 5 {
				f := newRenewFixture(t, m)
				const n = 16
				rs := make([]core.Renewal, n)
				errs := make([]error, n)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range rs {
					rs[i] = f.renewal()
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, errs[i] = f.s.Renew(ctx, rs[i])
					}()
				}
				close(start)
				wg.Wait()
				var won []string
				for i, err := range errs {
					switch {
					case err == nil:
						won = append(won, rs[i].NewKey)
					case !errors.Is(err, core.ErrConflict):
						t.Fatalf("Renew = %v, want nil or ErrConflict", err)
					}
					if _, found, _ := f.s.Load(ctx, rs[i].NewKey); found != (err == nil) {
						t.Errorf("Load(new key of a renewal that returned %v) found = %v", err, found)
					}
				}
				if len(won) != 1 {
					t.Fatalf("%d concurrent renewals of one version: %d won, want exactly 1", n, len(won))
				}
				checkKeys(t, f.s, "alice", won...)
			}
		})
	}
}

func TestRenewRoundTrips(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, testserver.Redis(t))
	hook := &countingHook{}
	client.AddHook(hook)
	f := newRenewFixture(t, userMode{client: client})
	f.s.Renew(ctx, f.renewal()) // warm up: the first run may need EVAL after EVALSHA
	for _, user := range []string{"", "alice"} {
		f := newRenewFixture(t, userMode{client: client})
		r := f.renewal()
		r.User = user
		before := hook.n.Load()
		if _, err := f.s.Renew(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got := hook.n.Load() - before; got != 1 {
			t.Errorf("Renew (user %q) made %d round trips, want 1", user, got)
		}
	}
}

func TestRenewInvalid(t *testing.T) {
	s := newStore(t, newClient(t, testserver.Redis(t)))
	for _, r := range []core.Renewal{
		{OldKey: "x", NewKey: newKey(), OldVersion: 1},
		{OldKey: newKey(), NewKey: "../x", OldVersion: 1},
	} {
		if _, err := s.Renew(context.Background(), r); !errors.Is(err, core.ErrInvalidKey) {
			t.Errorf("Renew with an invalid key = %v, want ErrInvalidKey", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Renew(ctx, core.Renewal{OldKey: newKey(), NewKey: newKey(), OldVersion: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("Renew with a cancelled context = %v, want context.Canceled", err)
	}
}

// renewChain renews one session over and over, each renewal's successor
// the next one's old record, either with Renew or, as the core does
// without it, in two steps: create the successor (CompareAndSwap of
// version zero), then retire the old record at its version. filed files
// the session under a user (CompareAndSwapUser for both steps). Keys are
// made beforehand, so step allocates only what the store calls do.
type renewChain struct {
	s          *redisstore.Store
	keys       []string
	i          int
	version    uint64
	data       []byte
	exp, until time.Time
	user       string
}

func newRenewChain(t testing.TB, s *redisstore.Store, n int, user string) *renewChain {
	t.Helper()
	c := &renewChain{s: s, keys: make([]string, n+1), data: make([]byte, 512),
		exp: time.Now().Add(time.Hour), until: time.Now().Add(2 * time.Hour), user: user}
	for i := range c.keys {
		c.keys[i] = newKey()
	}
	v, err := s.CompareAndSwapUser(context.Background(), c.keys[0], 0, c.data, c.exp, user, c.until)
	if err != nil {
		t.Fatal(err)
	}
	c.version = v
	return c
}

var retiredMarker = []byte("\x01\x00\x00\x00retired-marker")

// step moves the session to its next key, with Renew when renew is set.
func (c *renewChain) step(ctx context.Context, renew bool) error {
	old, next := c.keys[c.i], c.keys[c.i+1]
	c.i++
	rexp := time.Now().Add(5 * time.Second)
	if renew {
		v, err := c.s.Renew(ctx, core.Renewal{OldKey: old, OldVersion: c.version, Retired: retiredMarker, RetiredExpiry: rexp,
			NewKey: next, Data: c.data, Expiry: c.exp, User: c.user, Until: c.until})
		c.version = v
		return err
	}
	var (
		v   uint64
		err error
	)
	if c.user == "" {
		v, err = c.s.CompareAndSwap(ctx, next, 0, c.data, c.exp)
	} else {
		v, err = c.s.CompareAndSwapUser(ctx, next, 0, c.data, c.exp, c.user, c.until)
	}
	if err != nil {
		return err
	}
	if c.user == "" {
		_, err = c.s.CompareAndSwap(ctx, old, c.version, retiredMarker, rexp)
	} else {
		_, err = c.s.CompareAndSwapUser(ctx, old, c.version, retiredMarker, rexp, "", c.until)
	}
	c.version = v
	return err
}

// TestRenewAllocations pins the allocations of Renew, against those of
// the two calls it replaces, unfiled and filed under a user. Renew
// allocates only what go-redis does for any command (the command, and
// three in the connection's health check); its keys, argument and
// argument list are reused buffers.
func TestRenewAllocations(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, testserver.Redis(t))
	for _, user := range []string{"", "alice"} {
		s := newStore(t, client)
		const runs = 200
		measure := func(renew bool) float64 {
			c := newRenewChain(t, s, runs+1, user)
			return testing.AllocsPerRun(runs, func() {
				if err := c.step(ctx, renew); err != nil {
					t.Fatal(err)
				}
			})
		}
		two, one := measure(false), measure(true)
		t.Logf("user %q: two steps %.1f allocations, Renew %.1f", user, two, one)
		limit := 4.0
		if raceEnabled {
			limit = 10 // sync.Pool drops buffers at random under the race detector
		}
		if one > limit {
			t.Errorf("Renew (user %q): %.1f allocations, want at most %.0f", user, one, limit)
		}
	}
}

// BenchmarkRenew compares Renew with the two store calls it replaces (see
// renewChain), for a 512-byte session, unfiled and filed under a user.
func BenchmarkRenew(b *testing.B) {
	ctx := context.Background()
	client := newClient(b, testserver.Redis(b))
	for _, filed := range []string{"", "alice"} {
		for _, renew := range []bool{false, true} {
			name := "Unfiled"
			if filed != "" {
				name = "Filed"
			}
			if renew {
				name += "/way=Renew"
			} else {
				name += "/way=TwoSteps"
			}
			b.Run(name, func(b *testing.B) {
				c := newRenewChain(b, newStore(b, client), b.N, filed)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := c.step(ctx, renew); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
