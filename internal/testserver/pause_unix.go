//go:build unix

package testserver

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Pause freezes the server process with SIGSTOP: it keeps its connections
// open and its port bound but answers nothing, like a server stuck in a
// long garbage collection, a swap storm or a stalled disk. Resume (or Stop,
// or the end of the test) thaws it.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP)
	s.t.Cleanup(s.Resume)
	s.waitStopped()
}

// waitStopped waits (on Linux, for at most 2 seconds) until every thread
// of the server shows as stopped in /proc: SIGSTOP is delivered
// asynchronously, and a thread running on another CPU could otherwise
// still answer a request sent right after Pause returned.
func (s *Server) waitStopped() {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	dir := fmt.Sprintf("/proc/%d/task", cmd.Process.Pid)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tasks, err := os.ReadDir(dir)
		if err != nil {
			return // no /proc here: nothing to wait on
		}
		stopped := true
		for _, task := range tasks {
			stat, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
			// The state follows the command name in parentheses.
			if i := bytes.LastIndexByte(stat, ')'); err == nil && i >= 0 && i+2 < len(stat) && stat[i+2] != 'T' && stat[i+2] != 't' {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
	}
}

// Resume thaws a paused server with SIGCONT. Resuming a running or stopped
// server does nothing.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

// signal sends sig to the server process, if it runs.
func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Errorf("testserver: %s: send %v: %v", s.name, sig, err)
	}
}
