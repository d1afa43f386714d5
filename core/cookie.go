package core

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// cookieTemplate is the Set-Cookie value of the session cookie cut around
// the parts that change from one response to the next:
//
//	head + value + mid + ["; Expires=..."] + ["; Max-Age=..."] + tail
//
// which is the order http.Cookie.String writes them in. Building the value
// from it costs one allocation and no validation of the constant parts,
// which New did once. Values that http.Cookie.String would sanitize or
// quote go through http.Cookie.String instead.
type cookieTemplate struct {
	head, mid, tail string
	ok              bool // the template applies; otherwise always use http.Cookie.String
	// expires caches the last Expires attribute written: the sessions
	// created within one second share it.
	expires *atomic.Pointer[expiresText]
}

// expiresText is an Expires attribute's date, in http.TimeFormat, and the
// Unix second it names.
type expiresText struct {
	sec  int64
	text [len(http.TimeFormat)]byte
}

// newCookieTemplate cuts c's Set-Cookie value into a cookieTemplate.
func newCookieTemplate(c http.Cookie) cookieTemplate {
	if c.Quoted || c.Raw != "" || len(c.Unparsed) != 0 {
		return cookieTemplate{}
	}
	c.Value, c.MaxAge, c.Expires = "", 0, time.Time{}
	full := c.String() // name=; Path=...; Domain=...; HttpOnly; Secure; SameSite=...; Partitioned
	front := (&http.Cookie{Name: c.Name, Path: c.Path, Domain: c.Domain}).String()
	head := c.Name + "="
	if full == "" || !strings.HasPrefix(front, head) || !strings.HasPrefix(full, front) {
		return cookieTemplate{}
	}
	return cookieTemplate{head: head, mid: front[len(head):], tail: full[len(front):], ok: true,
		expires: new(atomic.Pointer[expiresText])}
}

// plainCookieValue reports whether http.Cookie.String writes v as it is:
// no byte it would drop, and nothing that would make it quote v. A sealed
// session cookie is a few hundred bytes: it looks bytes up in a table,
// eight in a row, which takes a third of the time of comparing each byte
// with the six cases in turn (BenchmarkPlainCookieValue).
func plainCookieValue(v string) bool {
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := v[i : i+8]
		if !(plainByte[w[0]] && plainByte[w[1]] && plainByte[w[2]] && plainByte[w[3]] &&
			plainByte[w[4]] && plainByte[w[5]] && plainByte[w[6]] && plainByte[w[7]]) {
			return false
		}
	}
	for ; i < len(v); i++ {
		if !plainByte[v[i]] {
			return false
		}
	}
	return true
}

// plainByte holds, for every byte, whether http.Cookie.String keeps it in
// a value without quoting the value (see notPlainByte).
var plainByte = func() (t [256]bool) {
	for b := range t {
		t[b] = !notPlainByte(byte(b))
	}
	return t
}()

// notPlainByte reports whether http.Cookie.String drops b from a value
// (a control byte, 0x7f and above, '"', ';', '\\') or quotes the value for
// it (' ', ',').
func notPlainByte(b byte) bool {
	return b <= ' ' || b >= 0x7f || b == '"' || b == ';' || b == '\\' || b == ','
}

// String returns what http.Cookie.String returns for the template's cookie
// with c's Value, MaxAge and Expires.
func (t *cookieTemplate) String(c *http.Cookie) string {
	if !t.ok || !plainCookieValue(c.Value) {
		return c.String()
	}
	const expiresLen = len("; Expires=") + len(http.TimeFormat)
	const maxAgeLen = len("; Max-Age=") + 20
	var b strings.Builder
	b.Grow(len(t.head) + len(c.Value) + len(t.mid) + expiresLen + maxAgeLen + len(t.tail))
	b.WriteString(t.head)
	b.WriteString(c.Value)
	b.WriteString(t.mid)
	if c.Expires.Year() >= 1601 { // http.Cookie.String's validCookieExpires
		b.WriteString("; Expires=")
		b.Write(t.expiresText(c.Expires))
	}
	switch {
	case c.MaxAge > 0:
		var buf [20]byte
		b.WriteString("; Max-Age=")
		b.Write(strconv.AppendInt(buf[:0], int64(c.MaxAge), 10))
	case c.MaxAge < 0:
		b.WriteString("; Max-Age=0")
	}
	b.WriteString(t.tail)
	return b.String()
}

// expiresText returns exp in http.TimeFormat, from the cache when it names
// the same second as the last one written.
func (t *cookieTemplate) expiresText(exp time.Time) []byte {
	if exp.UTC().Year() > 9999 {
		return exp.UTC().AppendFormat(nil, http.TimeFormat) // longer than the cache holds
	}
	sec := exp.Unix()
	e := t.expires.Load()
	if e == nil || e.sec != sec {
		e = &expiresText{sec: sec}
		exp.UTC().AppendFormat(e.text[:0], http.TimeFormat)
		t.expires.Store(e)
	}
	return e.text[:]
}

// Len returns len(t.String(c)) without building the value.
func (t *cookieTemplate) Len(c *http.Cookie) int {
	if !t.ok || !plainCookieValue(c.Value) || c.Expires.UTC().Year() > 9999 {
		return len(c.String())
	}
	return t.plainLen(c)
}

// Fits reports whether t.String(c) is neither empty nor longer than limit,
// and its length when that had to be counted. It reads the value's bytes
// only when the cookie may be too long: http.Cookie.String writes a value
// as it is, or drops bytes of it, or adds two quotes, so a cookie whose
// plain length plus two is within limit fits.
func (t *cookieTemplate) Fits(c *http.Cookie, limit int) (int, bool) {
	if t.ok && c.Expires.UTC().Year() <= 9999 {
		if n := t.plainLen(c); n+2 <= limit {
			return n, true
		}
	}
	n := t.Len(c)
	return n, n != 0 && n <= limit
}

// plainLen returns len(t.String(c)) for a value that http.Cookie.String
// writes as it is, and an expiry before the year 10000.
func (t *cookieTemplate) plainLen(c *http.Cookie) int {
	n := len(t.head) + len(c.Value) + len(t.mid) + len(t.tail)
	if c.Expires.Year() >= 1601 {
		n += len("; Expires=") + len(http.TimeFormat)
	}
	switch {
	case c.MaxAge > 0:
		n += len("; Max-Age=") + decimalLen(c.MaxAge)
	case c.MaxAge < 0:
		n += len("; Max-Age=0")
	}
	return n
}

// decimalLen returns the number of digits of n > 0.
func decimalLen(n int) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}
