package bench

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Redis and memcached: the address in SESSIONKIT_REDIS_ADDR or
// SESSIONKIT_MEMCACHE_ADDR when set (run.sh starts one server of each for
// the whole run), otherwise a throw-away server on a free loopback port,
// started on first use and stopped when the test binary exits (TestMain).
// This is a small copy of internal/testserver, which another module cannot
// import.

var servers struct {
	mu    sync.Mutex
	addrs map[string]string
	procs []*exec.Cmd
}

// serverAddr returns the address of a running server of kind "redis" or
// "memcached", or fails tb when there is none and none can be started.
func serverAddr(tb testing.TB, kind string) string {
	tb.Helper()
	env := map[string]string{"redis": "SESSIONKIT_REDIS_ADDR", "memcached": "SESSIONKIT_MEMCACHE_ADDR"}[kind]
	if addr := os.Getenv(env); addr != "" {
		return addr
	}
	servers.mu.Lock()
	defer servers.mu.Unlock()
	if addr, ok := servers.addrs[kind]; ok {
		return addr
	}
	addr, err := startServer(kind)
	if err != nil {
		tb.Fatalf("bench: %s: %v (set %s to a running server)", kind, err, env)
	}
	if servers.addrs == nil {
		servers.addrs = map[string]string{}
	}
	servers.addrs[kind] = addr
	return addr
}

func startServer(kind string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var cmd *exec.Cmd
	switch kind {
	case "redis":
		cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", os.TempDir())
	case "memcached":
		args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", "1024"}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root")
		}
		cmd = exec.Command("memcached", args...)
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	servers.procs = append(servers.procs, cmd)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("server on %s did not start", addr)
}

func stopServers() {
	servers.mu.Lock()
	defer servers.mu.Unlock()
	for _, cmd := range servers.procs {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	servers.procs = nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopServers()
	os.Exit(code)
}
