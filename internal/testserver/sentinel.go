package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// SentinelMaster is the master name RedisSentinel's sentinel monitors.
const SentinelMaster = "sessionkit"

// RedisSentinel starts a throw-away Redis master and one Sentinel that
// monitors it under the name SentinelMaster, and returns the Sentinel's
// address; both stop when the test ends. It always starts its own servers.
func RedisSentinel(t testing.TB) (sentinelAddr string) {
	t.Helper()
	master := StartRedis(t)
	path := lookBinary(t, "redis-server", "SESSIONKIT_REDIS_ADDR", "redis-server")
	dir := t.TempDir()
	s := newServer(t, "redis-sentinel", path, dir, func(port int) []string {
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", port))
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s 1\n",
			port, dir, SentinelMaster, redisHostPort(master.Addr))
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatalf("testserver: write sentinel config: %v", err)
		}
		return []string{conf, "--sentinel"}
	}, redisPing)
	return s.Addr
}

// redisHostPort turns host:port into Sentinel's "host port".
func redisHostPort(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i] + " " + addr[i+1:]
		}
	}
	return addr
}
