// Package testserver starts throw-away Redis and memcached servers for tests.
//
// Each helper first looks at an environment variable naming an existing
// server (SESSIONKIT_REDIS_ADDR, SESSIONKIT_MEMCACHE_ADDR); when it is unset,
// it starts the server binary on a free 127.0.0.1 port, with its files in
// t.TempDir(), and stops it in t.Cleanup. When the binary is missing the test
// is skipped with a message saying how to enable it, unless
// SESSIONKIT_REQUIRE_SERVERS=1, which turns the skip into a failure.
package testserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long a started server may take to answer.
const startTimeout = 10 * time.Second

// RequireServers reports whether SESSIONKIT_REQUIRE_SERVERS=1 is set, in
// which case a missing server fails the test instead of skipping it.
func RequireServers() bool {
	return os.Getenv("SESSIONKIT_REQUIRE_SERVERS") == "1"
}

// Unavailable skips t, or fails it when RequireServers reports true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireServers() {
		t.Fatalf("%s (SESSIONKIT_REQUIRE_SERVERS=1)", msg)
		return
	}
	t.Skip(msg)
}

// lookBinary returns the path of name, or skips/fails t when it is missing.
func lookBinary(t testing.TB, name, envVar, aptPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "testserver: %s not found: set %s to a running server's address or install it (apt-get install %s)",
			name, envVar, aptPackage)
	}
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("testserver: find a free port: %v", err)
	}
	return port
}

// Server is a server process the test controls: it can be stopped and
// started again on the same address to simulate an outage.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	t     testing.TB
	name  string
	path  string
	args  []string
	dir   string
	ready func(addr string) error

	mu     sync.Mutex
	cmd    *exec.Cmd
	log    *os.File
	exited chan error
}

// newServer starts a server process and registers its cleanup. argsFor
// returns the command line for a port; a port taken by someone else between
// FreePort and the start is retried with another one.
func newServer(t testing.TB, name, path, dir string, argsFor func(port int) []string, ready func(string) error) *Server {
	t.Helper()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		port := FreePort(t)
		s := &Server{
			Addr:  fmt.Sprintf("127.0.0.1:%d", port),
			t:     t,
			name:  name,
			path:  path,
			args:  argsFor(port),
			dir:   dir,
			ready: ready,
		}
		if err = s.start(); err == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatal(err)
	return nil
}

// Start starts the server again on its address after Stop. Starting a
// running server does nothing. It fails the test if the server does not
// answer within a few seconds.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// start runs the server process and waits until it answers.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logFile, err := os.OpenFile(filepath.Join(s.dir, s.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("testserver: %s: open log: %w", s.name, err)
	}
	cmd := exec.Command(s.path, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("testserver: start %s: %w", s.name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.ready(s.Addr)
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			logFile.Close()
			return fmt.Errorf("testserver: %s exited before answering on %s: %v\n%s", s.name, s.Addr, werr, s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			logFile.Close()
			return fmt.Errorf("testserver: %s did not answer on %s: %v\n%s", s.name, s.Addr, err, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd = cmd
	s.log = logFile
	s.exited = exited
	return nil
}

// Stop kills the server process and waits for it to exit. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.log.Close()
	s.cmd, s.log, s.exited = nil, nil, nil
}

// logTail returns the end of the server's log for failure messages.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, s.name+".log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// roundTrip sends one request line to addr and returns the first response
// line, with a short timeout.
func roundTrip(addr, request string) (string, error) {
	return roundTripUntil(addr, request, func(string) bool { return true })
}

// roundTripUntil sends request to addr and reads response lines until done
// returns true for the text read so far; it returns all lines read.
func roundTripUntil(addr, request string, done func(text string) bool) (string, error) {
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
	var buf bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		buf.WriteString(line)
		if err != nil {
			return buf.String(), err
		}
		if done(buf.String()) {
			return buf.String(), nil
		}
	}
}

// envAddrs splits a comma-separated list of addresses from an environment
// variable, ignoring empty entries.
func envAddrs(name string) []string {
	var addrs []string
	for _, a := range strings.Split(os.Getenv(name), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// runCommand runs a helper binary and returns its combined output.
func runCommand(path string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, path, args...).CombinedOutput()
}
