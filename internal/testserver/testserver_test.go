package testserver

import (
	"fmt"
	"strings"
	"testing"
)

func TestRequireServers(t *testing.T) {
	t.Setenv("SESSIONKIT_REQUIRE_SERVERS", "1")
	if !RequireServers() {
		t.Error("RequireServers() = false with SESSIONKIT_REQUIRE_SERVERS=1, want true")
	}
	t.Setenv("SESSIONKIT_REQUIRE_SERVERS", "")
	if RequireServers() {
		t.Error("RequireServers() = true with SESSIONKIT_REQUIRE_SERVERS unset, want false")
	}
}

func TestEnvAddressWins(t *testing.T) {
	t.Setenv("SESSIONKIT_REDIS_ADDR", "127.0.0.1:1")
	if got := Redis(t); got != "127.0.0.1:1" {
		t.Errorf("Redis() = %q, want %q from SESSIONKIT_REDIS_ADDR", got, "127.0.0.1:1")
	}
	t.Setenv("SESSIONKIT_MEMCACHE_ADDR", "127.0.0.1:2")
	if got := Memcached(t); got != "127.0.0.1:2" {
		t.Errorf("Memcached() = %q, want %q from SESSIONKIT_MEMCACHE_ADDR", got, "127.0.0.1:2")
	}
	t.Setenv("SESSIONKIT_REDIS_CLUSTER_ADDRS", "127.0.0.1:3, 127.0.0.1:4")
	if got := RedisCluster(t); strings.Join(got, ",") != "127.0.0.1:3,127.0.0.1:4" {
		t.Errorf("RedisCluster() = %q, want the two addresses from SESSIONKIT_REDIS_CLUSTER_ADDRS", got)
	}
}

// checkStopStart verifies that a controllable server stops answering after
// Stop and answers again on the same address after Start.
func checkStopStart(t *testing.T, s *Server, ping func(string) error) {
	t.Helper()
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") {
		t.Errorf("Addr = %q, want a 127.0.0.1 address", s.Addr)
	}
	if err := ping(s.Addr); err != nil {
		t.Fatalf("ping(%s) after start = %v, want nil", s.Addr, err)
	}
	s.Stop()
	if err := ping(s.Addr); err == nil {
		t.Fatalf("ping(%s) after Stop = nil, want an error", s.Addr)
	}
	s.Stop() // idempotent
	s.Start()
	if err := ping(s.Addr); err != nil {
		t.Fatalf("ping(%s) after Start = %v, want nil", s.Addr, err)
	}
}

func TestStartRedis(t *testing.T) {
	checkStopStart(t, StartRedis(t), redisPing)
}

func TestStartMemcached(t *testing.T) {
	s := StartMemcached(t)
	checkStopStart(t, s, memcachedVersion)
	if _, err := roundTrip(s.Addr, "set k 0 0 1\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	n, err := MemcachedStat(s.Addr, "curr_items")
	if err != nil || n != 1 {
		t.Errorf("MemcachedStat(curr_items) = %d, %v, want 1, nil", n, err)
	}
}

func TestRedisCluster(t *testing.T) {
	t.Setenv("SESSIONKIT_REDIS_CLUSTER_ADDRS", "")
	addrs := RedisCluster(t)
	if len(addrs) != 3 {
		t.Fatalf("RedisCluster() = %q, want 3 addresses", addrs)
	}
	for _, a := range addrs {
		info, err := redisBulk(a, "CLUSTER INFO\r\n")
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_assigned:16384") {
			t.Errorf("CLUSTER INFO on %s = %q, %v, want cluster_state:ok with all slots assigned", a, info, err)
		}
	}
}

// fakeTB records Skip and Fatalf instead of ending the test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skip(args ...any) { f.skipped, f.msg = true, fmt.Sprint(args...) }

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
}

func TestMissingBinary(t *testing.T) {
	for _, require := range []string{"", "1"} {
		t.Setenv("SESSIONKIT_REQUIRE_SERVERS", require)
		f := &fakeTB{TB: t}
		lookBinary(f, "sessionkit-no-such-server", "SESSIONKIT_REDIS_ADDR", "redis-server")
		if require == "1" && (!f.failed || f.skipped) {
			t.Errorf("missing binary with SESSIONKIT_REQUIRE_SERVERS=1: failed=%v skipped=%v, want a failure", f.failed, f.skipped)
		}
		if require == "" && (!f.skipped || f.failed) {
			t.Errorf("missing binary: skipped=%v failed=%v, want a skip", f.skipped, f.failed)
		}
		for _, want := range []string{"SESSIONKIT_REDIS_ADDR", "apt-get install redis-server"} {
			if !strings.Contains(f.msg, want) {
				t.Errorf("message %q does not say %q", f.msg, want)
			}
		}
	}
}
