//go:build !unix

package testserver

// Pause skips the test: freezing a process needs SIGSTOP, which only Unix
// systems have. Tests that pause a server through a Proxy run everywhere.
func (s *Server) Pause() {
	s.t.Helper()
	s.t.Skip("testserver: pausing a server process needs SIGSTOP (Unix only)")
}

// Resume does nothing where Pause is unsupported.
func (s *Server) Resume() {}
