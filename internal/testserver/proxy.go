package testserver

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from its own 127.0.0.1 address to a
// target server, and can hold every byte in either direction while the
// connections stay open: to the client, the server hangs mid-request
// without any error, the way a paused or overloaded server does. It can
// also kill them: every connection closes and new ones are closed as soon
// as they are accepted, the way a crashed server looks, without touching a
// server that other tests share.
type Proxy struct {
	// Addr is the proxy's host:port; point the client at it.
	Addr string

	target string
	l      net.Listener
	t      testing.TB // Hold registers Release as its cleanup

	mu     sync.Mutex
	closed bool
	held   bool
	killed bool
	muted  bool
	gate   chan struct{} // closed while bytes flow; replaced by Hold
	conns  []net.Conn
}

// NewProxy starts a proxy to target, closed (with every connection through
// it) when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: proxy: %v", err)
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l, t: t, gate: make(chan struct{})}
	close(p.gate)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Hold stops forwarding: bytes already read from either side, and all
// that follow, wait in the proxy until Release. New connections are
// accepted and held too. Like Server.Pause, it registers Release as a
// cleanup of the test, after the cleanups registered before it (a store's
// Close, say), so that it runs before them: a test that fails while the
// proxy holds does not wait forever in a Close for a call stuck behind it.
func (p *Proxy) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.held {
		p.held, p.gate = true, make(chan struct{})
		p.t.Cleanup(p.Release)
	}
}

// Kill closes every connection through the proxy, and every new one as
// soon as it is accepted, until Release.
func (p *Proxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killed = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Mute drops every byte the server sends, until Unmute or Release: the
// server receives and carries out every command while the client never
// hears back, the way a reply lost in the network looks.
func (p *Proxy) Mute() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.muted = true
}

// Unmute ends Mute: replies flow again (those dropped meanwhile are lost).
func (p *Proxy) Unmute() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.muted = false
}

// isMuted reports whether Mute is in force.
func (p *Proxy) isMuted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.muted
}

// Release forwards everything held and resumes normal forwarding, and
// ends a Kill (new connections reach the server again) and a Mute.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killed, p.muted = false, false
	if p.held {
		p.held = false
		close(p.gate)
	}
}

// wait blocks while the proxy holds bytes.
func (p *Proxy) wait() {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	<-gate
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

func (p *Proxy) serve(c net.Conn) {
	if !p.track(c) {
		return
	}
	p.wait()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(s) {
		c.Close()
		return
	}
	go p.pipe(s, c, false)
	p.pipe(c, s, true)
}

// track records c so that Kill and close can end it; it reports false
// (closing c) when the proxy is closed or killed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.killed {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

// pipe copies from src to dst, passing each chunk only while not held;
// replies (the server's bytes) are dropped while muted.
func (p *Proxy) pipe(dst, src net.Conn, replies bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !(replies && p.isMuted()) {
			p.wait()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed connection: close the other side too
		}
	}
}

// close stops the proxy, releases held bytes and closes every connection.
func (p *Proxy) close() {
	p.l.Close()
	p.Release()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns, p.closed = nil, true
}
