package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/conformance"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/redisstore"
)

// parallel lets the conformance checks run in parallel: every store has
// its own key prefix.
var parallel = conformance.StoreOptions{Parallel: true}

func TestConformance(t *testing.T) {
	client := newClient(t, testserver.Redis(t))
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, client) // a fresh key prefix: an empty store
	}, parallel)
}

// newClusterClient returns a client of a three-master Redis Cluster.
func newClusterClient(t testing.TB) *goredis.ClusterClient {
	t.Helper()
	c := goredis.NewClusterClient(&goredis.ClusterOptions{
		Addrs:                 testserver.RedisCluster(t),
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClusterConformance(t *testing.T) {
	client := newClusterClient(t)
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, client)
	}, parallel)
}

// TestClusterHashTagConformance runs the suite on the Cluster with a
// hash-tagged KeyPrefix: every key shares one slot, so the user sets and
// Renew change in one script with the records, as on a single node
// (without a hash tag, Renew declines and its checks pass vacuously).
func TestClusterHashTagConformance(t *testing.T) {
	client := newClusterClient(t)
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		s, _ := userMode{client: client, hashTag: true}.store(t)
		return s
	}, parallel)
}

func TestClusterSpreadsAndIterates(t *testing.T) {
	ctx := context.Background()
	client := newClusterClient(t)
	s := newStore(t, client)
	want := make(map[string]bool)
	for i := 0; i < 60; i++ {
		k := newKey()
		want[k] = true
		if err := s.Save(ctx, k, []byte(k), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// Count the keys each master holds.
	// ForEachMaster calls back concurrently, once per master, however many
	// masters the cluster has.
	var (
		mu     sync.Mutex
		counts []int64
	)
	err := client.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
		n, err := node.DBSize(ctx).Result()
		mu.Lock()
		counts = append(counts, n)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, n := range counts {
		if n > 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("keys per master = %v, want records spread over several nodes", counts)
	}
	got := make(map[string]bool)
	if err := s.Iterate(ctx, func(k string) bool {
		if got[k] {
			t.Errorf("Iterate reported %s... twice", k[:8])
		}
		got[k] = true
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("Iterate on the cluster found %d keys, want %d (every master scanned)", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Errorf("Iterate missed %s...", k[:8])
			break
		}
		rec, found, err := s.Load(ctx, k)
		if err != nil || !found || string(rec.Data) != k {
			t.Errorf("Load(%s...) on the cluster = %v, %v", k[:8], found, err)
		}
	}
	n := 0
	if err := s.Iterate(ctx, func(string) bool { n++; return n < 5 }); err != nil || n != 5 {
		t.Errorf("Iterate stopping after 5 called fn %d times, %v; want 5", n, err)
	}
}

func TestStoreIsUniversal(t *testing.T) {
	// The same constructor takes every kind of go-redis client.
	var clients = []goredis.UniversalClient{
		goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}),
		goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}),
		goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}),
	}
	for _, c := range clients {
		if _, err := redisstore.New(c, redisstore.Config{}); err != nil {
			t.Errorf("New(%T) = %v", c, err)
		}
		c.Close()
	}
}

func TestSentinelConformance(t *testing.T) {
	client := goredis.NewFailoverClient(&goredis.FailoverOptions{
		MasterName:            testserver.SentinelMaster,
		SentinelAddrs:         []string{testserver.RedisSentinel(t)},
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { client.Close() })
	conformance.TestStoreWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, client)
	}, parallel)
}

// TestShared runs the shared-store checks with one client per instance
// (separate application servers) on one key prefix.
func TestShared(t *testing.T) {
	addr := testserver.Redis(t)
	instances := func(t *testing.T, n int) []core.Store {
		prefix := uniquePrefix()
		out := make([]core.Store, n)
		for i := range out {
			s, err := redisstore.New(newClient(t, addr), redisstore.Config{KeyPrefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			out[i] = s
		}
		return out
	}
	conformance.TestSharedStore(t, instances)
	// The issue-10 scale: 64 clients x 16 keys on one session, in one
	// Manager and over several instances; zero failed commits, no lost key.
	t.Run("Contention", func(t *testing.T) { conformance.TestContention(t, instances, conformance.ContentionOptions{}) })
}

// TestHardening runs the Manager-level attacks on this store.
func TestHardening(t *testing.T) {
	client := newClient(t, testserver.Redis(t))
	conformance.TestHardening(t, func(t *testing.T) core.Store {
		return newStore(t, client)
	})
}
