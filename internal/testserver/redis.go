package testserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisEnv names the environment variable with the address of the Redis
// server to test against.
const RedisEnv = "SESSIONKIT_REDIS_ADDR"

// Redis returns the address of a Redis server for t: SESSIONKIT_REDIS_ADDR
// when set, otherwise a throw-away redis-server started for this test and
// stopped when it ends. Tests using it must not assume an empty server when
// the variable is set.
func Redis(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(RedisEnv); addr != "" {
		return addr
	}
	return StartRedis(t).Addr
}

// StartRedis starts a throw-away redis-server (no persistence) that the test
// can stop and restart, ignoring SESSIONKIT_REDIS_ADDR.
func StartRedis(t testing.TB) *Server {
	t.Helper()
	path := lookBinary(t, "redis-server", "SESSIONKIT_REDIS_ADDR", "redis-server")
	dir := t.TempDir()
	return newServer(t, "redis", path, dir, func(port int) []string {
		return redisArgs(port, dir)
	}, redisPing)
}

// redisArgs is the command line of a throw-away single redis-server.
func redisArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
	}
}

// redisPing reports whether the server at addr answers PING.
func redisPing(addr string) error {
	line, err := roundTrip(addr, "PING\r\n")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("testserver: redis PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// RedisCluster returns the addresses of a Redis Cluster for t:
// SESSIONKIT_REDIS_CLUSTER_ADDRS (comma-separated) when set, otherwise three
// throw-away master nodes created with redis-cli --cluster create, stopped
// when the test ends. It waits until every node reports cluster_state:ok.
func RedisCluster(t testing.TB) []string {
	t.Helper()
	if addrs := envAddrs("SESSIONKIT_REDIS_CLUSTER_ADDRS"); len(addrs) > 0 {
		return addrs
	}
	path := lookBinary(t, "redis-server", "SESSIONKIT_REDIS_CLUSTER_ADDRS", "redis-server")
	cli := lookBinary(t, "redis-cli", "SESSIONKIT_REDIS_CLUSTER_ADDRS", "redis-tools")
	dir := t.TempDir()
	addrs := make([]string, 3)
	for i := range addrs {
		busPort := FreePort(t)
		s := newServer(t, fmt.Sprintf("redis-cluster-%d", i), path, dir, func(port int) []string {
			return append(redisArgs(port, dir),
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
				"--cluster-port", strconv.Itoa(busPort),
				"--cluster-node-timeout", "5000",
			)
		}, redisPing)
		addrs[i] = s.Addr
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := runCommand(cli, args...); err != nil {
		t.Fatalf("testserver: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, addr := range addrs {
		for {
			info, err := redisBulk(addr, "CLUSTER INFO\r\n")
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("testserver: redis cluster node %s not ready: %v\n%s", addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// redisBulk sends an inline command to addr and returns its bulk-string reply.
func redisBulk(addr, request string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte(request)); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(head, "$") {
		return "", fmt.Errorf("testserver: redis replied %q", strings.TrimSpace(head))
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil || n < 0 {
		return "", fmt.Errorf("testserver: redis replied %q", strings.TrimSpace(head))
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", err
	}
	return string(body[:n]), nil
}
