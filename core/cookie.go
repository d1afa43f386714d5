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
// no byte it would drop, and nothing that would make it quote v.
func plainCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b <= ' ' || b >= 0x7f || b == '"' || b == ';' || b == '\\' || b == ',' {
			return false
		}
	}
	return true
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
	if exp.Year() > 9999 {
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
	if !t.ok || !plainCookieValue(c.Value) || c.Expires.Year() > 9999 {
		return len(c.String())
	}
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
