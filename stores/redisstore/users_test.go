package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/internal/userindextest"
	"github.com/sessionkit/sessionkit/stores/redisstore"
)

// userMode is one deployment the user index must work on.
type userMode struct {
	name   string
	client goredis.UniversalClient
	// hashTag puts a hash tag in the prefix (one slot on a Cluster).
	hashTag bool
}

// userModes returns a single node, a Cluster whose records and user sets
// live in different slots, and a Cluster with a hash-tagged prefix.
func userModes(t *testing.T) []userMode {
	t.Helper()
	cluster := newClusterClient(t)
	return []userMode{
		{name: "Single", client: newClient(t, testserver.Redis(t))},
		{name: "Cluster", client: cluster},
		{name: "ClusterHashTag", client: cluster, hashTag: true},
	}
}

// store returns a store with a fresh prefix for the mode, and the prefix.
func (m userMode) store(t *testing.T) (*redisstore.Store, string) {
	t.Helper()
	prefix := uniquePrefix()
	if m.hashTag {
		prefix = "{" + strings.TrimSuffix(prefix, ":") + "}:"
	}
	s, err := redisstore.New(m.client, redisstore.Config{KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s, prefix
}

// userSet is the name of user's set under prefix.
func userSet(prefix, user string) string {
	sum := sha256.Sum256([]byte(user))
	return prefix + "user:" + hex.EncodeToString(sum[:])
}

// checkKeys compares UserKeys(user) with want, ignoring order.
func checkKeys(t *testing.T, s *redisstore.Store, user string, want ...string) {
	t.Helper()
	got, err := s.UserKeys(context.Background(), user)
	if err != nil {
		t.Fatalf("UserKeys(%q): %v", user, err)
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("UserKeys(%q) = %s, want %s", user, short(got), short(want))
	}
}

// short abbreviates keys for messages.
func short(keys []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k[:8])
	}
	b.WriteByte(']')
	return b.String()
}

func TestUserIndex(t *testing.T) {
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := m.store(t)
			exp := time.Now().Add(time.Minute)
			until := time.Now().Add(time.Hour)
			file := func(key string, version uint64, data, user string) uint64 {
				t.Helper()
				v, err := s.CompareAndSwapUser(ctx, key, version, []byte(data), exp, user, until)
				if err != nil {
					t.Fatalf("CompareAndSwapUser(%s..., %q): %v", key[:8], user, err)
				}
				return v
			}
			load := func(key, want string) uint64 {
				t.Helper()
				rec, found, err := s.Load(ctx, key)
				if err != nil || !found || string(rec.Data) != want {
					t.Fatalf("Load(%s...) = %q, %v, %v; want %q (the filing is not part of the data)", key[:8], rec.Data, found, err, want)
				}
				return rec.Version
			}
			k1, k2, k3 := newKey(), newKey(), newKey()
			v1 := file(k1, 0, "one", "alice")
			file(k2, 0, "two", "alice")
			file(k3, 0, "three", "bob")
			checkKeys(t, s, "alice", k1, k2)
			checkKeys(t, s, "bob", k3)
			checkKeys(t, s, "")
			checkKeys(t, s, "carol")
			load(k1, "one")

			// The user id is hashed in the key name.
			n, err := m.client.Exists(ctx, userSet(prefix, "alice")).Result()
			if err != nil || n != 1 {
				t.Errorf("EXISTS <prefix>user:<sha256(alice)> = %d, %v, want 1", n, err)
			}

			// CompareAndSwap, Save and Touch keep the filing.
			v1, err = s.CompareAndSwap(ctx, k1, v1, []byte("one-b"), exp)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Touch(ctx, k1, exp.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if rec, _, _ := s.Load(ctx, k1); !rec.Expiry.Equal(exp.Add(time.Minute)) || rec.Version != v1 {
				t.Errorf("Load after Touch of a filed record = %v v%d, want %v v%d", rec.Expiry, rec.Version, exp.Add(time.Minute), v1)
			}
			v1 = load(k1, "one-b")
			if err := s.Save(ctx, k2, []byte("two-b"), exp); err != nil {
				t.Fatal(err)
			}
			v2 := load(k2, "two-b")
			checkKeys(t, s, "alice", k1, k2)

			// A conflict changes nothing.
			if _, err := s.CompareAndSwapUser(ctx, k1, v1+1, []byte("x"), exp, "bob", until); !errors.Is(err, core.ErrConflict) {
				t.Errorf("CompareAndSwapUser with a stale version = %v, want ErrConflict", err)
			}
			if _, err := s.CompareAndSwapUser(ctx, k1, 0, []byte("x"), exp, "bob", until); !errors.Is(err, core.ErrConflict) {
				t.Errorf("CompareAndSwapUser(version 0) of a live record = %v, want ErrConflict", err)
			}
			checkKeys(t, s, "bob", k3)

			// Refiling moves the key; the record remembered alice (Save kept it).
			file(k2, v2, "two-c", "bob")
			checkKeys(t, s, "alice", k1)
			checkKeys(t, s, "bob", k2, k3)
			// A stale member (on a Cluster across slots every refiling
			// leaves one; elsewhere an interrupted follow-up may) is never
			// listed: the record names its user.
			gone := newKey()
			for _, k := range []string{k2, gone} {
				if err := m.client.ZAdd(ctx, userSet(prefix, "alice"), goredis.Z{Score: float64(until.UnixMilli()), Member: k}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			checkKeys(t, s, "alice", k1)
			if ok, err := m.client.ZScore(ctx, userSet(prefix, "alice"), gone).Result(); err == nil {
				t.Errorf("ZSCORE of a member whose record is gone, after UserKeys = %v, want it removed", ok)
			}
			m.client.ZRem(ctx, userSet(prefix, "alice"), k2)
			// Clearing takes it off the listing of the user it was filed
			// under (on a Cluster across slots it stays a member there,
			// skipped).
			v1 = file(k1, v1, "one-c", "")
			checkKeys(t, s, "alice")
			load(k1, "one-c")
			// Filing it again after the clearing.
			v1 = file(k1, v1, "one-d", "alice")
			checkKeys(t, s, "alice", k1)
			// A plain CompareAndSwap ending the record ends the filing.
			if _, err := s.CompareAndSwap(ctx, k1, v1, nil, time.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			checkKeys(t, s, "alice")
			// Delete ends it.
			if err := s.Delete(ctx, k3); err != nil {
				t.Fatal(err)
			}
			checkKeys(t, s, "bob", k2)
			// CompareAndSwapUser with an expiry that has passed ends it.
			v2 = load(k2, "two-c")
			if _, err := s.CompareAndSwapUser(ctx, k2, v2, nil, time.Now().Add(-time.Second), "bob", until); err != nil {
				t.Fatal(err)
			}
			if _, found, _ := s.Load(ctx, k2); found {
				t.Error("Load after CompareAndSwapUser with a past expiry found the record")
			}
			checkKeys(t, s, "bob")
			// A record created by Save is filed under no user.
			k4 := newKey()
			s.Save(ctx, k4, []byte("four"), exp)
			checkKeys(t, s, "alice")
			checkKeys(t, s, "bob")

			// Nothing is left: the emptied sets are gone.
			for _, u := range []string{"alice", "bob"} {
				if n, err := m.client.Exists(ctx, userSet(prefix, u)).Result(); err != nil || n != 0 {
					zs, _ := m.client.ZRangeWithScores(ctx, userSet(prefix, u), 0, -1).Result()
					t.Errorf("EXISTS set of %s after every session ended = %d, %v, want 0 (members %v)", u, n, err, zs)
				}
			}
		})
	}
}

func TestUserIndexUntil(t *testing.T) {
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := m.store(t)
			exp := time.Now().Add(time.Minute)
			short := newKey()
			// 2 s: the checks below must run before the filing ends, also
			// on a loaded machine.
			shortUntil := time.Now().Add(2 * time.Second)
			if _, err := s.CompareAndSwapUser(ctx, short, 0, []byte("s"), exp, "dave", shortUntil); err != nil {
				t.Fatal(err)
			}
			long := newKey()
			if _, err := s.CompareAndSwapUser(ctx, long, 0, []byte("l"), exp, "dave", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			checkKeys(t, s, "dave", short, long)
			// The set lives as long as its longest entry: until on a
			// Cluster across slots, min(expiry, until) where the record
			// scripts keep the scores.
			want, why := time.Minute, "the largest min(expiry, until)"
			over := time.Duration(0)
			if m.name == "Cluster" {
				// The filing in progress (fileFirst) scores until + 0.5 ms
				// and sets the TTL to that rounded up: the set may outlive
				// its largest until by 1 ms.
				want, why, over = time.Hour, "the largest until", time.Millisecond
			}
			pttl, err := m.client.PTTL(ctx, userSet(prefix, "dave")).Result()
			if err != nil || pttl < want-time.Minute/60 || pttl > want+over {
				t.Errorf("PTTL of the user set = %v, %v, want about %v (%s)", pttl, err, want, why)
			}
			time.Sleep(time.Until(shortUntil) + 100*time.Millisecond)
			// The record lives on, but its filing ended at until.
			if _, found, _ := s.Load(ctx, short); !found {
				t.Fatal("the record ended with its until, want only its filing ended")
			}
			checkKeys(t, s, "dave", long)
			if n, err := m.client.ZCard(ctx, userSet(prefix, "dave")).Result(); err != nil || n != 1 {
				t.Errorf("ZCARD after UserKeys = %d, %v, want 1 (the past until pruned)", n, err)
			}
		})
	}
}

// TestUserIndexLeavesNothing files 10 000 sessions of one user that expire
// within seconds, with an until an hour later: once they have expired, no
// user set and no record is left. Where the record scripts keep the
// scores, the set's own TTL (the sessions' expiry, not the until) removes
// it; on a Cluster across slots the set lives to the until, and the first
// UserKeys empties it.
func TestUserIndexLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("10 000 sessions: not in -short")
	}
	const sessions, workers = 10000, 16
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := m.store(t)
			set := userSet(prefix, "erin")
			var (
				next    atomic.Int64
				maxSize atomic.Int64
				wg      sync.WaitGroup
				errs    = make(chan error, workers)
			)
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= sessions {
						end := time.Now().Add(time.Second)
						if _, err := s.CompareAndSwapUser(ctx, newKey(), 0, []byte("x"), end, "erin", end.Add(time.Hour)); err != nil {
							errs <- err
							return
						}
						if next.Load()%500 == 0 {
							n, _ := m.client.ZCard(ctx, set).Result()
							for cur := maxSize.Load(); n > cur && !maxSize.CompareAndSwap(cur, n); cur = maxSize.Load() {
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			last := time.Now().Add(time.Second)
			n, err := m.client.ZCard(ctx, set).Result()
			if err != nil || n == 0 || n > sessions {
				t.Fatalf("ZCARD after the filings = %d, %v, want between 1 and %d", n, err, sessions)
			}
			t.Logf("%d filings: largest set seen %d, %d members at the end", sessions, maxSize.Load(), n)
			time.Sleep(time.Until(last) + 200*time.Millisecond)
			if m.name != "Cluster" {
				if n, err := m.client.Exists(ctx, set).Result(); err != nil || n != 0 {
					t.Errorf("EXISTS user set after every session expired = %d, %v, want 0", n, err)
				}
			}
			// Checked after the set: UserKeys itself prunes the set.
			if keys, err := s.UserKeys(ctx, "erin"); err != nil || len(keys) != 0 {
				t.Errorf("UserKeys after every session expired = %d keys, %v, want none", len(keys), err)
			}
			if n, err := m.client.Exists(ctx, set).Result(); err != nil || n != 0 {
				t.Errorf("EXISTS user set after every session expired and UserKeys = %d, %v, want 0", n, err)
			}
			left := 0
			if err := s.Iterate(ctx, func(string) bool { left++; return true }); err != nil || left != 0 {
				t.Errorf("records left after every session expired = %d, %v, want 0", left, err)
			}
		})
	}
}

func TestUserIndexPrunesOnFiling(t *testing.T) {
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := m.store(t)
			exp := time.Now().Add(time.Minute)
			for range 200 {
				if _, err := s.CompareAndSwapUser(ctx, newKey(), 0, nil, exp, "fay", time.Now().Add(50*time.Millisecond)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(100 * time.Millisecond)
			k := newKey()
			if _, err := s.CompareAndSwapUser(ctx, k, 0, nil, exp, "fay", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if n, err := m.client.ZCard(ctx, userSet(prefix, "fay")).Result(); err != nil || n != 1 {
				t.Errorf("ZCARD after a filing = %d, %v, want 1: every member past its until is dropped on filing", n, err)
			}
			checkKeys(t, s, "fay", k)
		})
	}
}

// TestUserIndexConcurrent files, refiles, clears, ends and deletes keys
// from many goroutines, some keys private to one goroutine and some fought
// over by all, while others list the users; at the end every user's keys
// are exactly the live records last filed under that user.
func TestUserIndexConcurrent(t *testing.T) {
	const (
		workers = 32
		rounds  = 60
		shared  = 8
	)
	users := []string{"u0", "u1", "u2", "u3"}
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := m.store(t)
			exp := time.Now().Add(time.Minute)
			until := time.Now().Add(time.Hour)
			// filed maps every successful filing's version to its user,
			// kept maps a CompareAndSwap's version to the one it replaced.
			var filed, kept sync.Map
			var conflicts atomic.Int64
			sharedKeys := make([]string, shared)
			for i := range sharedKeys {
				sharedKeys[i] = newKey()
				v, err := s.CompareAndSwapUser(ctx, sharedKeys[i], 0, nil, exp, users[i%len(users)], until)
				if err != nil {
					t.Fatal(err)
				}
				filed.Store(v, users[i%len(users)])
			}
			stop := make(chan struct{})
			var readers sync.WaitGroup
			for range 4 {
				readers.Add(1)
				go func() {
					defer readers.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						for _, u := range users {
							keys, err := s.UserKeys(ctx, u)
							if err != nil {
								t.Error(err)
								return
							}
							seen := map[string]bool{}
							for _, k := range keys {
								if seen[k] {
									t.Errorf("UserKeys(%s) lists %s... twice", u, k[:8])
								}
								seen[k] = true
							}
						}
					}
				}()
			}
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			private := make([][]string, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []string
					versions := map[string]uint64{}
					for range rounds {
						switch op := rand.IntN(6); {
						case op <= 1 || len(mine) == 0: // a new filed session
							k, u := newKey(), users[rand.IntN(len(users))]
							v, err := s.CompareAndSwapUser(ctx, k, 0, nil, exp, u, until)
							if err != nil {
								errs <- err
								return
							}
							filed.Store(v, u)
							mine = append(mine, k)
							versions[k] = v
						case op == 2: // refile or clear one of mine
							k := mine[rand.IntN(len(mine))]
							u := []string{"", users[rand.IntN(len(users))]}[rand.IntN(2)]
							v, err := s.CompareAndSwapUser(ctx, k, versions[k], nil, exp, u, until)
							if err != nil {
								errs <- err
								return
							}
							filed.Store(v, u)
							versions[k] = v
						case op == 3: // end or delete one of mine
							i := rand.IntN(len(mine))
							k := mine[i]
							var err error
							if rand.IntN(2) == 0 {
								err = s.Delete(ctx, k)
							} else {
								_, err = s.CompareAndSwapUser(ctx, k, versions[k], nil, time.Now().Add(-time.Second), users[0], until)
							}
							if err != nil {
								errs <- err
								return
							}
							mine = slices.Delete(mine, i, i+1)
							delete(versions, k)
						default: // fight over a shared key
							k := sharedKeys[rand.IntN(shared)]
							rec, found, err := s.Load(ctx, k)
							if err != nil || !found {
								errs <- fmt.Errorf("Load(shared) = %v, %v", found, err)
								return
							}
							u := users[rand.IntN(len(users))]
							var v uint64
							if rand.IntN(3) == 0 {
								v, err = s.CompareAndSwap(ctx, k, rec.Version, nil, exp)
								if err == nil {
									kept.Store(v, rec.Version)
								}
							} else {
								v, err = s.CompareAndSwapUser(ctx, k, rec.Version, nil, exp, u, until)
								if err == nil {
									filed.Store(v, u)
								}
							}
							if errors.Is(err, core.ErrConflict) {
								conflicts.Add(1)
							} else if err != nil {
								errs <- err
								return
							}
						}
					}
					private[w] = mine
				}()
			}
			wg.Wait()
			close(stop)
			readers.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			want := map[string][]string{}
			for _, k := range append(slices.Concat(private...), sharedKeys...) {
				rec, found, err := s.Load(ctx, k)
				if err != nil || !found {
					t.Fatalf("Load(%s...) = %v, %v, want the live record", k[:8], found, err)
				}
				v := rec.Version
				for {
					p, ok := kept.Load(v)
					if !ok {
						break
					}
					v = p.(uint64)
				}
				u, ok := filed.Load(v)
				if !ok {
					t.Fatalf("record %s... has a version no write returned", k[:8])
				}
				if u != "" {
					want[u.(string)] = append(want[u.(string)], k)
				}
			}
			t.Logf("%d workers x %d rounds, %d conflicts on the shared keys", workers, rounds, conflicts.Load())
			for _, u := range users {
				checkKeys(t, s, u, want[u]...)
				if m.name != "Cluster" {
					// On one slot every stale member is gone after UserKeys.
					n, err := m.client.ZCard(ctx, userSet(prefix, u)).Result()
					if err != nil || int(n) != len(want[u]) {
						t.Errorf("ZCARD of %s's set = %d, %v, want %d", u, n, err, len(want[u]))
					}
				}
			}
		})
	}
}

func TestUserIndexRoundTrips(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, testserver.Redis(t))
	hook := &countingHook{}
	client.AddHook(hook)
	s := newStore(t, client)
	exp := time.Now().Add(time.Minute)
	// Warm up the scripts.
	k := newKey()
	v, _ := s.CompareAndSwapUser(ctx, k, 0, nil, exp, "gus", exp)
	s.UserKeys(ctx, "gus")
	for name, op := range map[string]func() error{
		"CompareAndSwapUser": func() error {
			var err error
			v, err = s.CompareAndSwapUser(ctx, k, v, []byte("y"), exp, "hal", exp)
			return err
		},
		"UserKeys": func() error { _, err := s.UserKeys(ctx, "hal"); return err },
	} {
		before := hook.n.Load()
		if err := op(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := hook.n.Load() - before; got != 1 {
			t.Errorf("%s on a single node made %d round trips, want 1", name, got)
		}
	}
}

// TestUserIndexSnapshotUnderRenew renews one session over and over (file
// the new key, then end the old one, as the core does) while others list
// the user: at every instant one of the keys is live and filed, so no
// listing may come back empty.
func TestUserIndexSnapshotUnderRenew(t *testing.T) {
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			s, _ := m.store(t)
			userindextest.CheckSnapshotUnderRenew(t, s, newKey)
		})
	}
}

// gateHook holds back every pipeline that confirms member in set (a
// filing's last step: refile's fileScript, whose last argument is "", or
// a plain ZADD as refile sent before 2026-12-01) until open is closed,
// after reporting it on held.
type gateHook struct {
	set, member string
	held, open  chan struct{}
}

func (h *gateHook) DialHook(next goredis.DialHook) goredis.DialHook          { return next }
func (h *gateHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }

func (h *gateHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, c := range cmds {
			a := c.Args()
			zadd := c.Name() == "zadd" && len(a) >= 4 && a[1] == h.set && a[len(a)-1] == h.member
			script := (c.Name() == "evalsha" || c.Name() == "eval") && len(a) >= 8 && a[3] == h.set && a[4] == h.member && a[len(a)-1] == ""
			if zadd || script {
				h.held <- struct{}{}
				<-h.open
				break
			}
		}
		return next(ctx, cmds)
	}
}

// TestRefilingsLandOutOfOrder: on a Cluster across slots a filing's last
// step reaches the user sets after its record was written. Request A files
// a key under bob (its last step held back); request B, which loaded A's
// record, files the key back under alice and finishes; then A's last step
// lands. The key is filed under alice and must be listed there. (Before
// 2026-12-01 that last step removed the key from alice's set, where B had
// just filed it: the record was filed and not listed.)
func TestRefilingsLandOutOfOrder(t *testing.T) {
	ctx := context.Background()
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			s, prefix := m.store(t)
			exp, until := time.Now().Add(time.Minute), time.Now().Add(time.Hour)
			k := newKey()
			v0, err := s.CompareAndSwapUser(ctx, k, 0, []byte("a"), exp, "alice", until)
			if err != nil {
				t.Fatal(err)
			}
			gate := &gateHook{set: userSet(prefix, "bob"), member: k, held: make(chan struct{}, 1), open: make(chan struct{})}
			m.client.AddHook(gate)
			release := sync.OnceFunc(func() { close(gate.open) })
			defer release()
			done := make(chan error, 1)
			go func() {
				_, err := s.CompareAndSwapUser(ctx, k, v0, []byte("b"), exp, "bob", until)
				done <- err
			}()
			held := false
			select {
			case <-gate.held: // A wrote its record; its last step is held
				held = true
			case err := <-done: // one slot: one script, no last step
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the filing under bob neither finished nor reached its last step")
			}
			rec, found, err := s.Load(ctx, k)
			if err != nil || !found || string(rec.Data) != "b" {
				t.Fatalf("Load after A's record = %q, %v, %v; want A's record", rec.Data, found, err)
			}
			if _, err := s.CompareAndSwapUser(ctx, k, rec.Version, []byte("c"), exp, "alice", until); err != nil {
				t.Fatal(err)
			}
			release() // A's last step lands now
			if held {
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the filing under bob did not finish once released")
				}
			}
			if m.name == "Cluster" && !held {
				t.Fatal("on a Cluster across slots the filing had no last step to hold: the test checks nothing")
			}
			checkKeys(t, s, "alice", k)
			checkKeys(t, s, "bob")
		})
	}
}

// pauseHook holds back, once, the first command for which match reports
// true, after reporting it on held, until open is closed.
type pauseHook struct {
	match      func(args []any) bool
	fired      atomic.Bool
	held, open chan struct{}
}

func newPauseHook(match func(args []any) bool) *pauseHook {
	return &pauseHook{match: match, held: make(chan struct{}, 1), open: make(chan struct{})}
}

func (h *pauseHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *pauseHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func (h *pauseHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if h.match(cmd.Args()) && h.fired.CompareAndSwap(false, true) {
			h.held <- struct{}{}
			<-h.open
		}
		return next(ctx, cmd)
	}
}

// TestPruneSparesFilingInProgress: on a Cluster across slots a filing
// first adds its key to the user's set scored until + 0.5, then writes the
// record, then scores the key until. A UserKeys that read the set in
// between found the record missing and prunes the key if its score is
// still until + 0.5. Here the first filing (R1) completes after that
// reading, a second one (R2) loses its compare-and-swap after its first
// step, and only then does the pruning land: it must not take out the key
// R1 filed. (Before 2026-12-01 R2's first step scored the key until + 0.5
// again, the pruning matched, and the record stayed filed and unlisted.)
func TestPruneSparesFilingInProgress(t *testing.T) {
	for _, stale := range []bool{false, true} {
		t.Run(map[bool]string{false: "NewKey", true: "StaleMemberShorterUntil"}[stale], func(t *testing.T) {
			testPruneSparesFilingInProgress(t, stale)
		})
	}
}

// testPruneSparesFilingInProgress is TestPruneSparesFilingInProgress; with
// stale, the key is in the set already, left by a filing with an earlier
// until that lost its compare-and-swap (no record), when R1 files it.
func testPruneSparesFilingInProgress(t *testing.T, stale bool) {
	ctx := context.Background()
	client := newClusterClient(t)
	s, prefix := userMode{name: "Cluster", client: client}.store(t)
	k := newKey()
	set := userSet(prefix, "u")
	if stale {
		_, err := s.CompareAndSwapUser(ctx, k, 1, []byte("r0"), time.Now().Add(time.Minute), "u", time.Now().Add(30*time.Minute))
		if !errors.Is(err, core.ErrConflict) {
			t.Fatalf("R0 on a key with no record = %v, want ErrConflict", err)
		}
		if _, err := client.ZScore(ctx, set, k).Result(); err != nil {
			t.Fatalf("R0 left no member: %v", err)
		}
	}
	evalOn := func(args []any, key string) bool {
		name, _ := args[0].(string)
		return (name == "evalsha" || name == "eval") && len(args) > 3 && args[3] == key
	}
	write := newPauseHook(func(a []any) bool { return evalOn(a, prefix+k) })
	prune := newPauseHook(func(a []any) bool {
		// pruneScript's arguments are member, score as a string;
		// fileScript's (fileFirst, when the node lacks the script) are
		// member, score as a number, now.
		if !evalOn(a, set) || len(a) < 6 || a[4] != k {
			return false
		}
		_, score := a[5].(string)
		return score
	})
	client.AddHook(write)
	client.AddHook(prune)
	releaseWrite := sync.OnceFunc(func() { close(write.open) })
	releasePrune := sync.OnceFunc(func() { close(prune.open) })
	defer releaseWrite()
	defer releasePrune()
	exp, until := time.Now().Add(time.Minute), time.Now().Add(time.Hour)

	type result struct {
		v   uint64
		err error
	}
	r1 := make(chan result, 1)
	go func() {
		v, err := s.CompareAndSwapUser(ctx, k, 0, []byte("a"), exp, "u", until)
		r1 <- result{v, err}
	}()
	select {
	case <-write.held: // R1's key is in the set, its record not written
	case r := <-r1:
		t.Fatalf("R1 finished (%v) without reaching its record write through the hook", r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("R1 never reached its record write")
	}
	listed := make(chan error, 1)
	go func() {
		_, err := s.UserKeys(ctx, "u")
		listed <- err
	}()
	pruning := false
	select {
	case <-prune.held: // the UserKeys found the record missing and prunes
		pruning = true
	case err := <-listed: // it left the member alone
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("UserKeys neither pruned nor returned")
	}
	releaseWrite()
	var v1 uint64
	select {
	case r := <-r1:
		if r.err != nil {
			t.Fatal(r.err)
		}
		v1 = r.v
	case <-time.After(10 * time.Second):
		t.Fatal("R1 did not finish")
	}
	if _, err := s.CompareAndSwapUser(ctx, k, v1^1, []byte("b"), exp, "u", until); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("R2 with a wrong version = %v, want ErrConflict", err)
	}
	releasePrune()
	if pruning {
		select {
		case err := <-listed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("UserKeys did not finish once released")
		}
	}
	if !pruning {
		t.Fatal("the UserKeys did not prune the key it found without a record: the test checks nothing")
	}
	checkKeys(t, s, "u", k)
}
