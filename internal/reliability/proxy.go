package reliability

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Proxy forwards TCP connections from a local address to an upstream one
// (the database). Cut makes it behave like a stopped server: live
// connections are closed and new ones refused. Blackhole makes it behave
// like a hung one: connections are accepted and never answered. Restore
// forwards again, on the same address.
type Proxy struct {
	// Addr is the local address clients connect to ("127.0.0.1:port").
	Addr string

	mu       sync.Mutex
	upstream string
	ln       net.Listener
	mode     proxyMode
	conns    map[net.Conn]struct{}
	closed   bool
}

type proxyMode int

const (
	modeForward proxyMode = iota
	modeCut
	modeBlackhole
)

// NewProxy listens on a free loopback port and forwards to upstream (host:port).
func NewProxy(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), upstream: upstream, conns: map[net.Conn]struct{}{}, ln: ln}
	p.serve(ln)
	return p, nil
}

// serve accepts on ln until it is closed.
func (p *Proxy) serve(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // listener closed by Cut or Close
			}
			p.mu.Lock()
			mode, up, closed := p.mode, p.upstream, p.closed
			if closed || mode == modeCut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			if mode == modeBlackhole {
				continue // held open, never answered, until Restore or Close
			}
			go p.forward(c, up)
		}
	}()
}

func (p *Proxy) forward(c net.Conn, upstream string) {
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.mode != modeForward || p.closed {
		p.mu.Unlock()
		u.Close()
		p.drop(c)
		return
	}
	p.conns[u] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(u, c)
	go pipe(c, u)
	<-done
	p.drop(c)
	p.drop(u)
}

func (p *Proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// closeAllLocked closes every live connection; p.mu must be held.
func (p *Proxy) closeAllLocked() {
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Cut closes every connection and refuses new ones (ECONNREFUSED), as a
// stopped PostgreSQL does.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = modeCut
	p.closeAllLocked()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

// Blackhole closes every connection and accepts new ones without ever
// answering, as a hung server or a dropped network does.
func (p *Proxy) Blackhole() error {
	p.mu.Lock()
	p.mode = modeBlackhole
	p.closeAllLocked()
	needListen := p.ln == nil
	p.mu.Unlock()
	if needListen {
		return p.relisten()
	}
	return nil
}

// Restore forwards again on the same address.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	held := p.mode == modeBlackhole
	p.mode = modeForward
	if held {
		p.closeAllLocked() // black-holed connections never saw a byte: drop them
	}
	needListen := p.ln == nil
	p.mu.Unlock()
	if needListen {
		return p.relisten()
	}
	return nil
}

func (p *Proxy) relisten() error {
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		return fmt.Errorf("proxy: listen again on %s: %w", p.Addr, err)
	}
	p.mu.Lock()
	if p.closed || p.ln != nil {
		p.mu.Unlock()
		ln.Close()
		if p.closed {
			return errors.New("proxy: closed")
		}
		return nil
	}
	p.ln = ln
	p.mu.Unlock()
	p.serve(ln)
	return nil
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.closeAllLocked()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}
