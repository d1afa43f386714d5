//go:build unix

package testserver

import "syscall"

// Pause freezes the server process with SIGSTOP: it keeps its connections
// open and its port bound but answers nothing, like a server stuck in a
// long garbage collection, a swap storm or a stalled disk. Resume (or Stop,
// or the end of the test) thaws it.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP)
	s.t.Cleanup(s.Resume)
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
