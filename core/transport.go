package core

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// readToken returns the token the client presented, or "" when there is
// none or it is ambiguous, and whether it is well-formed (Tokens.Valid),
// so that the load does not check it again. A client-side store opens
// the token itself, so a header's token is then not checked here. It
// allocates nothing: the token is a substring of the request header.
func (m *Manager) readToken(r *http.Request) (string, bool) {
	if m.cfg.Header != "" {
		vals := r.Header[m.cfg.Header]
		if len(vals) != 1 {
			return "", false // absent, or sent twice: ambiguous, so no session
		}
		t := m.unsign(strings.TrimSpace(vals[0]))
		return t, t != "" && m.client == nil && m.cfg.Tokens.Valid(t)
	}
	return m.cookieToken(r.Header["Cookie"])
}

// cookieToken finds the session cookie among the Cookie header lines. When
// the cookie appears more than once (say, set for two paths), the first
// well-formed value wins; if none is well-formed, the first value is
// returned, not valid, so the caller knows a token was presented.
func (m *Manager) cookieToken(lines []string) (string, bool) {
	name := m.cfg.Cookie.Name
	first := ""
	for _, line := range lines {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			n, v, ok := strings.Cut(part, "=")
			if !ok || n != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if t := m.unsign(v); m.cfg.Tokens.Valid(t) {
				return t, true
			}
			if first == "" {
				first = m.unsign(v)
			}
		}
	}
	return first, false
}

// addVary marks the response as varying with the session token, once.
func (m *Manager) addVary(h http.Header, s *Session) {
	vary := h["Vary"]
	if len(vary) == 0 {
		// The value lives in the session's own allocation: no allocation
		// here, and nothing shared with other responses that a handler
		// editing h["Vary"][0] in place could race with. The cap of 1
		// makes any append copy.
		s.vary[0] = m.vary[0]
		h["Vary"] = s.vary[:1:1]
		return
	}
	for _, v := range vary {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, m.vary[0]) {
				return
			}
		}
	}
	h.Add("Vary", m.vary[0])
}

// writeToken sends token to the client, valid until expiry. An empty token
// removes the client's token.
func (m *Manager) writeToken(h http.Header, s *Session, token string, expiry, now time.Time) {
	if m.cfg.Header != "" {
		h.Set(m.cfg.Header, m.signValue(token))
		m.privateResponse(h)
		return
	}
	c := m.cfg.Cookie
	c.Value = m.signValue(token)
	switch {
	case token == "":
		c.MaxAge = -1
		c.Expires = time.Unix(0, 0)
	case m.cfg.BrowserSessionCookie:
		c.MaxAge = 0
	default:
		c.MaxAge = m.cookieMaxAge(expiry, now)
		c.Expires = now.Add(time.Duration(c.MaxAge) * time.Second)
	}
	if v := m.cookie.String(&c); v != "" {
		s.hdr[hdrSetCookie] = v
		addHeader(h, "Set-Cookie", s.hdr[hdrSetCookie:hdrSetCookie+1:hdrSetCookie+1])
	} else {
		m.cfg.Logger.Error("sessionkit: session cookie is invalid and was not sent", "cookie", c.Name)
	}
	m.noCacheCookie(h, s)
}

// addHeader adds the one value in v to h[key]. v is backed by the
// session's own allocation (Session.hdr) with a capacity of 1, so a first
// value costs no allocation and any later append copies.
func addHeader(h http.Header, key string, v []string) {
	if old := h[key]; len(old) > 0 {
		h[key] = append(old, v[0])
		return
	}
	h[key] = v
}

// headerFirst returns h.Get(key) for a key already in canonical form,
// without canonicalizing it again.
func headerFirst(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// MaxCookieSize is the largest Set-Cookie value, name and attributes
// included, that browsers are guaranteed to keep (RFC 6265bis).
const MaxCookieSize = 4096

// tokenFits reports an error wrapping ErrTooLarge when the client-side
// token would not come back: in a cookie, one that browsers drop silently;
// in a header (Config.Header), a token longer than the load reads
// (maxClientToken), which would open no session at the next request.
func (m *Manager) tokenFits(token string, expiry, now time.Time) error {
	if m.cfg.Header != "" {
		if len(token) > maxClientToken {
			return fmt.Errorf("sessionkit: seal: %w: the session token would take %d bytes, at most %d are read back", ErrTooLarge, len(token), maxClientToken)
		}
		return nil
	}
	c := m.cfg.Cookie
	c.Value, c.MaxAge, c.Expires = m.signValue(token), m.cookieMaxAge(expiry, now), now
	if n, ok := m.cookie.Fits(&c, MaxCookieSize); !ok {
		return fmt.Errorf("sessionkit: seal: %w: the session cookie would take %d bytes, browsers keep at most %d", ErrTooLarge, n, MaxCookieSize)
	}
	return nil
}

// cookieMaxAge returns the Max-Age for a cookie that should live until
// expiry, capped by the template's MaxAge and the browsers' 400 days.
func (m *Manager) cookieMaxAge(expiry, now time.Time) int {
	age := int((expiry.Sub(now) + time.Second - 1) / time.Second)
	if limit := int(MaxCookieAge / time.Second); age > limit {
		age = limit
	}
	if m.cfg.Cookie.MaxAge > 0 && age > m.cfg.Cookie.MaxAge {
		age = m.cfg.Cookie.MaxAge
	}
	if age < 1 {
		age = 1
	}
	return age
}

// noCacheCookie keeps shared caches from storing the Set-Cookie header.
func (m *Manager) noCacheCookie(h http.Header, s *Session) {
	const directive = `no-cache="Set-Cookie"`
	cc := headerFirst(h, "Cache-Control")
	switch {
	case cc == "":
		s.hdr[hdrCacheControl] = directive
		h["Cache-Control"] = s.hdr[hdrCacheControl : hdrCacheControl+1 : hdrCacheControl+1]
	case strings.Contains(cc, "no-store") || strings.Contains(cc, "private") || strings.Contains(cc, "Set-Cookie"):
	default:
		h.Set("Cache-Control", cc+", "+directive)
	}
}

// privateResponse keeps a response that carries a token header out of
// shared caches: the next client of a cache sends no token header either,
// so Vary alone would not stop the cache from handing it this token. Any
// "public" directive is dropped and "private" added, unless the response
// is already private or no-store.
func (m *Manager) privateResponse(h http.Header) {
	cc := headerFirst(h, "Cache-Control")
	if cc == "" {
		h.Set("Cache-Control", "private")
		return
	}
	if strings.Contains(cc, "no-store") || strings.Contains(cc, "private") {
		return
	}
	var out []string
	for _, d := range strings.Split(cc, ",") {
		if d = strings.TrimSpace(d); d != "" && !strings.EqualFold(d, "public") {
			out = append(out, d)
		}
	}
	h.Set("Cache-Control", strings.Join(append(out, "private"), ", "))
}
