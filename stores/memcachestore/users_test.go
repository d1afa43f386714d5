package memcachestore_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/internal/userindextest"
	"github.com/sessionkit/sessionkit/stores/memcachestore"
)

// userMode is one deployment the user lists must work on.
type userMode struct {
	name   string
	client *gomemcache.Client
}

// userModes returns one server, and two servers over which records and
// lists spread.
func userModes(t *testing.T) []userMode {
	t.Helper()
	return []userMode{
		{"OneServer", newClient(testserver.Memcached(t))},
		{"TwoServers", newClient(testserver.StartMemcached(t).Addr, testserver.StartMemcached(t).Addr)},
	}
}

// store returns a store with a fresh prefix, and the prefix.
func (m userMode) store(t *testing.T, cfg memcachestore.Config) (*memcachestore.Store, string) {
	t.Helper()
	cfg.KeyPrefix = uniquePrefix()
	s, err := memcachestore.New(m.client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg.KeyPrefix
}

// listKeys are the 16 items that list user's sessions under prefix, one
// per first hex digit of the session keys.
func listKeys(prefix, user string) []string {
	sum := sha256.Sum256([]byte(user))
	ids := make([]string, 16)
	for b := range ids {
		ids[b] = fmt.Sprintf("%suser:%s.%x", prefix, base64.RawURLEncoding.EncodeToString(sum[:]), b)
	}
	return ids
}

// listLen returns how many entries user's list items hold, -1 when there
// is no item.
func listLen(t *testing.T, c *gomemcache.Client, prefix, user string) int {
	t.Helper()
	items, err := c.GetMulti(listKeys(prefix, user))
	if err != nil {
		t.Fatalf("get the lists of %s: %v", user, err)
	}
	if len(items) == 0 {
		return -1
	}
	n := 0
	for _, item := range items {
		n += (len(item.Value) - 1) / memcachestore.ListEntryLen
	}
	return n
}

// checkKeys compares UserKeys(user) with want, ignoring order.
func checkKeys(t *testing.T, s *memcachestore.Store, user string, want ...string) {
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

// newKeyIn returns a key whose first hex digit is digit: one that the
// store lists in the same item as every other such key of the user.
func newKeyIn(digit byte) string {
	for {
		if k := newKey(); k[0] == digit {
			return k
		}
	}
}

// short abbreviates keys for messages.
func short(keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k[:8]
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func TestUserIndex(t *testing.T) {
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := m.store(t, memcachestore.Config{})
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
			if n := listLen(t, m.client, prefix, "alice"); n != 2 {
				t.Errorf("entries in <prefix>user:<sha256(alice)> = %d, want 2", n)
			}

			// CompareAndSwap, Touch and Save keep the filing.
			var err error
			if v1, err = s.CompareAndSwap(ctx, k1, v1, []byte("one-b"), exp); err != nil {
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

			// Refiling moves the key, clearing takes it off, filing again
			// puts it back.
			file(k2, v2, "two-c", "bob")
			checkKeys(t, s, "alice", k1)
			checkKeys(t, s, "bob", k2, k3)
			v1 = file(k1, v1, "one-c", "")
			checkKeys(t, s, "alice")
			load(k1, "one-c")
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
			// A record created by Save or CompareAndSwap is filed under no user.
			s.Save(ctx, newKey(), []byte("four"), exp)
			s.CompareAndSwap(ctx, newKey(), 0, []byte("five"), exp)
			checkKeys(t, s, "alice")
			checkKeys(t, s, "bob")
			// The emptied lists are gone.
			for _, u := range []string{"alice", "bob"} {
				if n := listLen(t, m.client, prefix, u); n != -1 {
					t.Errorf("list of %s after every session ended holds %d entries, want no item", u, n)
				}
			}
		})
	}
}

// TestUserIndexStale plants what an interrupted update or a lost race
// leaves: UserKeys lists only records that are live and filed under the
// user, and takes the rest off the list.
func TestUserIndexStale(t *testing.T) {
	m := userModes(t)[1]
	ctx := context.Background()
	s, prefix := m.store(t, memcachestore.Config{})
	exp, until := time.Now().Add(time.Minute), time.Now().Add(time.Hour)
	mine, theirs, gone := newKey(), newKey(), newKey()
	if _, err := s.CompareAndSwapUser(ctx, mine, 0, nil, exp, "ann", until); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{theirs, gone} {
		if _, err := s.CompareAndSwapUser(ctx, k, 0, nil, exp, "ben", until); err != nil {
			t.Fatal(err)
		}
	}
	// Copy ben's lists into ann's: theirs and gone are listed under ann now.
	annIDs := listKeys(prefix, "ann")
	for b, id := range listKeys(prefix, "ben") {
		item, err := m.client.Get(id)
		if errors.Is(err, gomemcache.ErrCacheMiss) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ann, err := m.client.Get(annIDs[b])
		if errors.Is(err, gomemcache.ErrCacheMiss) {
			ann, err = &gomemcache.Item{Key: annIDs[b], Value: []byte{memcachestore.ListFormat}}, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		ann.Value = append(ann.Value, item.Value[1:]...)
		if err := m.client.Set(ann); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, s, "ann", mine)
	if n := listLen(t, m.client, prefix, "ann"); n != 1 {
		t.Errorf("ann's list after UserKeys holds %d entries, want 1 (stale ones pruned)", n)
	}
	checkKeys(t, s, "ben", theirs)
}

// TestUserIndexEviction shows what the package documentation promises when
// memcached evicts: a lost list hides the sessions filed before until their
// next filing; a lost record drops its entry.
func TestUserIndexEviction(t *testing.T) {
	m := userModes(t)[0]
	ctx := context.Background()
	s, prefix := m.store(t, memcachestore.Config{})
	exp, until := time.Now().Add(time.Minute), time.Now().Add(time.Hour)
	k1, k2 := newKey(), newKey()
	v1, _ := s.CompareAndSwapUser(ctx, k1, 0, nil, exp, "cat", until)
	s.CompareAndSwapUser(ctx, k2, 0, nil, exp, "cat", until)
	for _, id := range listKeys(prefix, "cat") {
		m.client.Delete(id) // evicted
	}
	checkKeys(t, s, "cat")
	if _, err := s.CompareAndSwapUser(ctx, k1, v1, nil, exp, "cat", until); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, s, "cat", k1)
	m.client.Delete(prefix + k1) // the record evicted
	checkKeys(t, s, "cat")
	if n := listLen(t, m.client, prefix, "cat"); n != -1 {
		t.Errorf("list after its only record was evicted holds %d entries, want no item", n)
	}
}

func TestUserIndexUntilAndCapacity(t *testing.T) {
	ctx := context.Background()
	m := userModes(t)[0]
	s, _ := m.store(t, memcachestore.Config{})
	exp := time.Now().Add(time.Minute)
	brief := newKey()
	until := time.Now().Add(2 * time.Second) // two writes and a list within it, also on a loaded machine
	if _, err := s.CompareAndSwapUser(ctx, brief, 0, nil, exp, "dan", until); err != nil {
		t.Fatal(err)
	}
	long := newKey()
	if _, err := s.CompareAndSwapUser(ctx, long, 0, nil, exp, "dan", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, s, "dan", brief, long)
	time.Sleep(time.Until(until) + 100*time.Millisecond)
	if _, found, _ := s.Load(ctx, brief); !found {
		t.Fatal("the record ended with its until, want only its filing ended")
	}
	checkKeys(t, s, "dan", long)

	// A list item of at most 5 entries keeps the 5 latest untils.
	s, prefix := m.store(t, memcachestore.Config{MaxItemSize: 1 + 5*memcachestore.ListEntryLen})
	var want []string
	for i := range 8 {
		k := newKeyIn('7') // one list item
		if _, err := s.CompareAndSwapUser(ctx, k, 0, nil, exp, "eve", time.Now().Add(time.Duration(10-i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if i < 5 {
			want = append(want, k)
		}
	}
	checkKeys(t, s, "eve", want...)
	if n := listLen(t, m.client, prefix, "eve"); n != 5 {
		t.Errorf("entries in a list limited to 5 = %d", n)
	}
}

func TestUserIndexPrunesOnFiling(t *testing.T) {
	ctx := context.Background()
	m := userModes(t)[0]
	s, prefix := m.store(t, memcachestore.Config{})
	exp := time.Now().Add(time.Minute)
	for range 200 {
		if _, err := s.CompareAndSwapUser(ctx, newKeyIn('c'), 0, nil, exp, "fay", time.Now().Add(50*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	k := newKeyIn('c') // the same list item
	if _, err := s.CompareAndSwapUser(ctx, k, 0, nil, exp, "fay", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := listLen(t, m.client, prefix, "fay"); n != 1 {
		t.Errorf("entries after a filing = %d, want 1: every entry past its until is dropped on a filing into its item", n)
	}
	checkKeys(t, s, "fay", k)
}

// TestUserIndexLeavesNothing files 10 000 sessions of one user that expire
// within a second: once memcached's second-granular expiry has passed, no
// list and no record is left.
func TestUserIndexLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("10 000 sessions: not in -short")
	}
	const sessions, workers = 10000, 8
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := m.store(t, memcachestore.Config{})
			var (
				next    atomic.Int64
				largest atomic.Int64
				wg      sync.WaitGroup
				errs    = make(chan error, workers)
				keys    = make([][]string, workers)
			)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= sessions {
						k, end := newKey(), time.Now().Add(300*time.Millisecond)
						if _, err := s.CompareAndSwapUser(ctx, k, 0, []byte("x"), end, "gil", end.Add(time.Hour)); err != nil {
							errs <- err
							return
						}
						keys[w] = append(keys[w], k)
						if next.Load()%500 == 0 {
							n := int64(listLen(t, m.client, prefix, "gil"))
							for cur := largest.Load(); n > cur && !largest.CompareAndSwap(cur, n); cur = largest.Load() {
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
			t.Logf("%d filings: largest list seen %d entries", sessions, largest.Load())
			// The lists live to the until, an hour away; UserKeys prunes
			// the entries of the expired records. memcached expires the
			// records on its one-second clock.
			time.Sleep(2500 * time.Millisecond)
			if got, err := s.UserKeys(ctx, "gil"); err != nil || len(got) != 0 {
				t.Errorf("UserKeys after every session expired = %d keys, %v, want none", len(got), err)
			}
			if n := listLen(t, m.client, prefix, "gil"); n != -1 {
				t.Errorf("list after every session expired and UserKeys holds %d entries, want no item", n)
			}
			all := slices.Concat(keys...)
			if len(all) != sessions {
				t.Fatalf("filed %d sessions, want %d", len(all), sessions)
			}
			left := 0
			for chunk := range slices.Chunk(all, 500) {
				ids := make([]string, len(chunk))
				for i, k := range chunk {
					ids[i] = prefix + k
				}
				items, err := m.client.GetMulti(ids)
				if err != nil {
					t.Fatal(err)
				}
				left += len(items)
			}
			if left != 0 {
				t.Errorf("%d records left after every session expired, want 0", left)
			}
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
		rounds  = 40
		shared  = 8
	)
	users := []string{"u0", "u1", "u2", "u3"}
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := m.store(t, memcachestore.Config{})
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
							var v uint64
							if rand.IntN(3) == 0 {
								v, err = s.CompareAndSwap(ctx, k, rec.Version, nil, exp)
								if err == nil {
									kept.Store(v, rec.Version)
								}
							} else {
								u := users[rand.IntN(len(users))]
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
			}
		})
	}
}

func TestUserIndexRecordSize(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newClient(testserver.Memcached(t)))
	exp := time.Now().Add(time.Minute)
	k := newKey()
	data := make([]byte, s.MaxRecordSize())
	if _, err := s.CompareAndSwapUser(ctx, k, 0, data, exp, "hal", exp); err != nil {
		t.Fatalf("CompareAndSwapUser of MaxRecordSize bytes: %v", err)
	}
	if rec, found, err := s.Load(ctx, k); err != nil || !found || len(rec.Data) != len(data) {
		t.Fatalf("Load of a filed record of MaxRecordSize bytes = %d bytes, %v, %v", len(rec.Data), found, err)
	}
	if _, err := s.CompareAndSwapUser(ctx, newKey(), 0, append(data, 0), exp, "hal", exp); !errors.Is(err, core.ErrTooLarge) {
		t.Errorf("CompareAndSwapUser of MaxRecordSize+1 bytes = %v, want ErrTooLarge", err)
	}
}

// TestUserIndexSnapshotUnderRenew renews one session over and over (file
// the new key, then end the old one, as the core does) while others list
// the user: at every instant one of the keys is live and filed, so no
// listing may come back empty.
func TestUserIndexSnapshotUnderRenew(t *testing.T) {
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			s, _ := m.store(t, memcachestore.Config{})
			userindextest.CheckSnapshotUnderRenew(t, s, newKey)
		})
	}
}
