package testserver

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a server that the test
// must not stop (a shared database server, say): Kill makes the server look
// dead and Pause makes it look hung, without touching the server itself.
type Proxy struct {
	// Addr is the proxy's host:port; point the client at it.
	Addr string

	target string
	l      net.Listener

	mu     sync.Mutex
	state  proxyState
	resume chan struct{} // closed when a pause ends
	conns  map[net.Conn]struct{}
	closed bool
}

type proxyState int

const (
	proxyUp proxyState = iota
	proxyKilled
	proxyPaused
)

// StartProxy starts a proxy to target (host:port) and stops it, closing
// every connection, when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Kill closes every connection through the proxy and closes new ones as
// soon as they are accepted, as if the server had crashed, until Restore.
func (p *Proxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setState(proxyKilled)
	for c := range p.conns {
		c.Close()
	}
}

// Pause stops forwarding in both directions, on open and new connections
// alike, as if the server had stopped answering (SIGSTOP), until Restore.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setState(proxyPaused)
}

// Restore makes the proxy forward again: connections a pause held go on
// where they stopped; new connections reach the server.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setState(proxyUp)
}

// setState switches the state; p.mu is held.
func (p *Proxy) setState(s proxyState) {
	if p.state == proxyPaused && s != proxyPaused {
		close(p.resume)
	}
	if s == proxyPaused && p.state != proxyPaused {
		p.resume = make(chan struct{})
	}
	p.state = s
}

// gate returns nil when data may flow, or a channel closed when it may,
// and whether the connection must be dropped.
func (p *Proxy) gate() (wait chan struct{}, drop bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed || p.state == proxyKilled:
		return nil, true
	case p.state == proxyPaused:
		return p.resume, false
	}
	return nil, false
}

func (p *Proxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

// track registers c so that Kill and close reach it; false when the proxy
// is killed or closed and c was closed instead.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.state == proxyKilled {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) serve(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	if !p.wait() {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client); done <- struct{}{} }()
	go func() { p.pipe(client, server); done <- struct{}{} }()
	<-done // either side ending ends both (the deferred untracks close them)
}

// wait blocks while the proxy is paused and reports whether to go on.
func (p *Proxy) wait() bool {
	for {
		ch, drop := p.gate()
		if drop {
			return false
		}
		if ch == nil {
			return true
		}
		<-ch
	}
}

// pipe copies from src to dst, holding each chunk while the proxy is paused.
func (p *Proxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// close stops the proxy and closes every connection.
func (p *Proxy) close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.state == proxyPaused {
		close(p.resume)
		p.state = proxyUp
	}
	for c := range p.conns {
		c.Close()
	}
}
