package testserver

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// MemcachedEnv names the environment variable with the address of the
// memcached server to test against.
const MemcachedEnv = "SESSIONKIT_MEMCACHE_ADDR"

// Memcached returns the address of a memcached server for t:
// SESSIONKIT_MEMCACHE_ADDR when set, otherwise a throw-away memcached started
// for this test and stopped when it ends. Tests using it must not assume an
// empty server when the variable is set.
func Memcached(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(MemcachedEnv); addr != "" {
		return addr
	}
	return StartMemcached(t).Addr
}

// StartMemcached starts a throw-away memcached (TCP only, loopback) that the
// test can stop and restart, ignoring SESSIONKIT_MEMCACHE_ADDR.
func StartMemcached(t testing.TB) *Server {
	t.Helper()
	path := lookBinary(t, "memcached", "SESSIONKIT_MEMCACHE_ADDR", "memcached")
	dir := t.TempDir()
	return newServer(t, "memcached", path, dir, func(port int) []string {
		args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0"}
		if os.Geteuid() == 0 {
			// memcached refuses to run as root without naming a user.
			args = append(args, "-u", "root")
		}
		return args
	}, memcachedVersion)
}

// memcachedVersion reports whether the server at addr answers "version".
func memcachedVersion(addr string) error {
	line, err := roundTrip(addr, "version\r\n")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("testserver: memcached version answered %q", strings.TrimSpace(line))
	}
	return nil
}

// MemcachedStat returns one general-purpose statistic ("curr_items", say) of
// the memcached server at addr.
func MemcachedStat(addr, name string) (int64, error) {
	text, err := roundTripUntil(addr, "stats\r\n", func(text string) bool {
		return strings.HasSuffix(text, "END\r\n")
	})
	if err != nil {
		return 0, fmt.Errorf("testserver: memcached stats: %w", err)
	}
	for _, line := range strings.Split(text, "\r\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "STAT" && f[1] == name {
			return strconv.ParseInt(f[2], 10, 64)
		}
	}
	return 0, fmt.Errorf("testserver: memcached stats: no %q", name)
}
