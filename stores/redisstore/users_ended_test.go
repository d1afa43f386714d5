package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/stores/redisstore"
)

// TestUserIndexEntriesEndWithSessions files sessions whose until is an hour
// away but whose expiry is near, deletes half of them, lets the rest expire
// and files one more: where the record scripts keep the scores (one slot),
// the set then holds only the new key, and its TTL follows the live
// sessions, not the until. A Touch and a CompareAndSwap that extend a
// filed session keep it in the set past its first expiry.
func TestUserIndexEntriesEndWithSessions(t *testing.T) {
	for _, m := range userModes(t) {
		if m.name == "Cluster" {
			continue // scores are until there: see TestUserIndexClusterPrunes
		}
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			s, prefix := m.store(t)
			set := userSet(prefix, "ivy")
			until := time.Now().Add(time.Hour)
			// The sessions live 3 s: long enough that the setup below
			// ends before they expire on a loaded machine (make test runs
			// several modules at once), which the test then waits out.
			short := time.Now().Add(3 * time.Second)
			var keys []string
			for range 100 {
				k := newKey()
				if _, err := s.CompareAndSwapUser(ctx, k, 0, []byte("x"), short, "ivy", until); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			for _, k := range keys[:50] {
				if err := s.Delete(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := m.client.ZCard(ctx, set).Result(); err != nil || n != 50 {
				t.Errorf("ZCARD after deleting 50 of 100 sessions = %d, %v, want 50: Delete takes the key out of its set", n, err)
			}
			// Two of the remaining sessions are extended, one by Touch and
			// one by CompareAndSwap; the others expire.
			touched, swapped := keys[50], keys[51]
			if err := s.Touch(ctx, touched, time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			rec, _, err := s.Load(ctx, swapped)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.CompareAndSwap(ctx, swapped, rec.Version, []byte("y"), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Until(short) + 100*time.Millisecond)
			k := newKey()
			if _, err := s.CompareAndSwapUser(ctx, k, 0, []byte("x"), time.Now().Add(time.Minute), "ivy", until); err != nil {
				t.Fatal(err)
			}
			if n, err := m.client.ZCard(ctx, set).Result(); err != nil || n != 3 {
				t.Errorf("ZCARD after the sessions expired and one more filing = %d, %v, want 3 (the new key and the two extended ones)", n, err)
			}
			if pttl, err := m.client.PTTL(ctx, set).Result(); err != nil || pttl > time.Minute {
				t.Errorf("PTTL of the set = %v, %v, want at most a minute (the sessions' expiry), not the until", pttl, err)
			}
			checkKeys(t, s, "ivy", k, touched, swapped)
		})
	}
}

// failAfterScript is a hook that, once armed, fails every pipeline sent
// after a script ran outside a pipeline: the step that follows the record
// write of a filing on a Cluster across slots.
type failAfterScript struct {
	armed, fired atomic.Bool
	scriptRan    atomic.Bool
}

func (h *failAfterScript) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *failAfterScript) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if n := cmd.Name(); h.armed.Load() && (n == "evalsha" || n == "eval") && err == nil {
			h.scriptRan.Store(true)
		}
		return err
	}
}

func (h *failAfterScript) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if h.armed.Load() && h.scriptRan.Load() {
			h.fired.Store(true)
			err := errors.New("injected: the set's node is unreachable")
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}

// TestUserIndexClusterFilesBeforeWriting fails the set update that follows
// the record write on a Cluster across slots: the record, written and
// filed, must still be listed (its key went into the set first), so that a
// later "log out everywhere" finds it.
func TestUserIndexClusterFilesBeforeWriting(t *testing.T) {
	ctx := context.Background()
	client := newClusterClient(t)
	hook := &failAfterScript{}
	client.AddHook(hook)
	m := userMode{name: "Cluster", client: client}
	s, _ := m.store(t)
	exp := time.Now().Add(time.Minute)
	k := newKey()
	v, err := s.CompareAndSwap(ctx, k, 0, []byte("anonymous"), exp)
	if err != nil {
		t.Fatal(err)
	}
	hook.armed.Store(true)
	_, err = s.CompareAndSwapUser(ctx, k, v, []byte("logged in"), exp, "jay", exp)
	hook.armed.Store(false)
	if !hook.fired.Load() {
		t.Fatal("the injected failure never fired: the test does not exercise the step after the record write")
	}
	if err == nil {
		t.Fatal("CompareAndSwapUser = nil with its last step failing, want the error")
	}
	rec, found, lerr := s.Load(ctx, k)
	if lerr != nil || !found || string(rec.Data) != "logged in" {
		t.Fatalf("Load = %q, %v, %v: the record write should have happened before the injected failure", rec.Data, found, lerr)
	}
	checkKeys(t, s, "jay", k)
}

// TestUserIndexClusterPrunes files sessions on a Cluster across slots with
// an until an hour away, deletes them all, then files more: each filing
// checks a few random members, so the set shrinks back to the live keys
// well before the until.
func TestUserIndexClusterPrunes(t *testing.T) {
	ctx := context.Background()
	m := userMode{name: "Cluster", client: newClusterClient(t)}
	s, prefix := m.store(t)
	set := userSet(prefix, "kim")
	exp := time.Now().Add(time.Minute)
	until := time.Now().Add(time.Hour)
	for range 20 {
		k := newKey()
		if _, err := s.CompareAndSwapUser(ctx, k, 0, nil, exp, "kim", until); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	var live []string
	for range 80 {
		k := newKey()
		if _, err := s.CompareAndSwapUser(ctx, k, 0, nil, exp, "kim", until); err != nil {
			t.Fatal(err)
		}
		live = append(live, k)
	}
	members, err := m.client.ZRange(ctx, set, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(members)
	slices.Sort(live)
	if stale := len(members) - len(live); stale > 2 {
		t.Errorf("the set holds %d members for %d live sessions after 80 filings: the filings' checks should have removed (nearly) all 20 deleted ones", len(members), len(live))
	}
	for _, k := range live {
		if _, ok := slices.BinarySearch(members, k); !ok {
			t.Errorf("live key %s… missing from the set", k[:8])
		}
	}
	scores, err := m.client.ZRangeWithScores(ctx, set, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range scores {
		if z.Score != float64(int64(z.Score)) {
			t.Errorf("member %v has score %v: a finished filing scores until in whole milliseconds", z.Member, z.Score)
		}
	}
}

// TestRefilingExtendsTheSet files a key under a user with an until an
// hour away, then again with one two hours away: the set must last as
// long as the later until, in every mode (the set's TTL is its largest
// score), and the score must be the later until. On a Cluster across
// slots the second filing's last step is then failed after the record
// write: the key, found in the set by the first step with the earlier
// until, must already have been scored the later one (+ 0.5, in
// progress), so that the record stays listed until then.
func TestRefilingExtendsTheSet(t *testing.T) {
	ctx := context.Background()
	for _, m := range userModes(t) {
		t.Run(m.name, func(t *testing.T) {
			s, prefix := m.store(t)
			set := userSet(prefix, "kim")
			k, v, exp := fileForAnHour(t, s)
			until := time.Now().Add(2 * time.Hour)
			if _, err := s.CompareAndSwapUser(ctx, k, v, []byte("b"), exp, "kim", until); err != nil {
				t.Fatal(err)
			}
			checkScoreAndTTL(t, m.client, set, k, until, false)
			checkKeys(t, s, "kim", k)
		})
	}
	t.Run("ClusterLastStepFails", func(t *testing.T) {
		client := newClusterClient(t)
		hook := &failAfterScript{}
		client.AddHook(hook)
		s, prefix := userMode{name: "Cluster", client: client}.store(t)
		set := userSet(prefix, "kim")
		k, v, exp := fileForAnHour(t, s)
		until := time.Now().Add(2 * time.Hour)
		hook.armed.Store(true)
		_, err := s.CompareAndSwapUser(ctx, k, v, []byte("b"), exp, "kim", until)
		hook.armed.Store(false)
		if !hook.fired.Load() || err == nil {
			t.Fatalf("the injected failure fired: %v, CompareAndSwapUser = %v; want it fired and an error", hook.fired.Load(), err)
		}
		if rec, _, _ := s.Load(ctx, k); string(rec.Data) != "b" {
			t.Fatalf("Load = %q, want the second filing's record", rec.Data)
		}
		checkScoreAndTTL(t, client, set, k, until, true)
		checkKeys(t, s, "kim", k)
	})
}

// fileForAnHour files a new key under kim until an hour from now and
// returns it, its version and its expiry (three hours away).
func fileForAnHour(t *testing.T, s *redisstore.Store) (string, uint64, time.Time) {
	t.Helper()
	exp := time.Now().Add(3 * time.Hour)
	k := newKey()
	v, err := s.CompareAndSwapUser(context.Background(), k, 0, []byte("a"), exp, "kim", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return k, v, exp
}

// TestRefilingSetsTheTTL empties the user set while a first filing's
// record write is held on a Cluster across slots (as a pruning that found
// the record missing may): the filing's last step puts the key back, and
// the set it makes must expire with the key's until, not live on.
func TestRefilingSetsTheTTL(t *testing.T) {
	ctx := context.Background()
	client := newClusterClient(t)
	s, prefix := userMode{name: "Cluster", client: client}.store(t)
	set := userSet(prefix, "kim")
	k := newKey()
	until := time.Now().Add(2 * time.Hour)
	finish := holdRecordWrite(t, client, prefix+k, func() error {
		_, err := s.CompareAndSwapUser(ctx, k, 0, []byte("a"), until.Add(time.Hour), "kim", until)
		return err
	})
	if n, err := client.Del(ctx, set).Result(); err != nil || n != 1 {
		t.Fatalf("DEL of the set during the filing = %d, %v, want 1", n, err)
	}
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	checkScoreAndTTL(t, client, set, k, until, false)
	checkKeys(t, s, "kim", k)
}

// TestRefileAfterScriptFlush flushes the scripts of every node while a
// filing's record write is held on a Cluster across slots (as a restart
// or a failover of the set's node would lose them): the filing's last
// step, whose script the node then lacks, must load it and confirm the
// key, not fail the filing.
func TestRefileAfterScriptFlush(t *testing.T) {
	ctx := context.Background()
	client := newClusterClient(t)
	s, prefix := userMode{name: "Cluster", client: client}.store(t)
	k := newKey()
	until := time.Now().Add(time.Hour)
	finish := holdRecordWrite(t, client, prefix+k, func() error {
		_, err := s.CompareAndSwapUser(ctx, k, 0, []byte("a"), until, "kim", until)
		return err
	})
	if err := client.ForEachShard(ctx, func(ctx context.Context, shard *goredis.Client) error {
		return shard.ScriptFlush(ctx).Err()
	}); err != nil {
		t.Fatal(err)
	}
	if err := finish(); err != nil {
		t.Fatalf("the filing whose last step found its script flushed: %v", err)
	}
	checkScoreAndTTL(t, client, userSet(prefix, "kim"), k, until, false)
}

// holdRecordWrite runs f, a filing whose record write (a script on the
// key record) a hook on client holds back, and returns once it is held:
// finish lets the write go and returns f's error.
func holdRecordWrite(t *testing.T, client *goredis.ClusterClient, record string, f func() error) (finish func() error) {
	t.Helper()
	write := newPauseHook(func(a []any) bool {
		name, _ := a[0].(string)
		return (name == "evalsha" || name == "eval") && len(a) > 3 && a[3] == record
	})
	client.AddHook(write)
	release := sync.OnceFunc(func() { close(write.open) })
	t.Cleanup(release)
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case <-write.held:
	case err := <-done:
		t.Fatalf("the filing finished (%v) without reaching its record write through the hook", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the filing never reached its record write")
	}
	return func() error {
		release()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("the filing did not finish once released")
			return nil
		}
	}
}

// checkScoreAndTTL checks that member's score in set is until (in Unix
// milliseconds), plus 0.5 when inProgress (a filing whose last step did
// not run), and that the set lives at least until then.
func checkScoreAndTTL(t *testing.T, client goredis.UniversalClient, set, member string, until time.Time, inProgress bool) {
	t.Helper()
	ctx := context.Background()
	want := float64(until.UnixMilli())
	if inProgress {
		want += 0.5
	}
	score, err := client.ZScore(ctx, set, member).Result()
	if err != nil || score != want {
		t.Errorf("ZSCORE = %f, %v, want %f (the later until)", score, err, want)
	}
	ttl, err := client.PTTL(ctx, set).Result()
	if left := time.Until(until); err != nil || ttl < left-time.Minute {
		t.Errorf("PTTL of the set = %v, %v, want at least %v (until the later until)", ttl, err, left.Round(time.Second))
	}
}
