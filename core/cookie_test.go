package core

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// TestCookieTemplate checks that the cut Set-Cookie value is byte for byte
// what http.Cookie.String writes, over many cookie settings, values,
// Max-Ages and expiries, including values it must sanitize or quote.
func TestCookieTemplate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	values := []string{"", "abc", "AAAA-_09.~!#$%&'()*+/:<=>?@[]^`{|}", "a b", "a,b", `a"b`, "a;b", `a\b`, "tok\x7f", "é", "abc.def-ghi_jkl"}
	expiries := []time.Time{{}, time.Unix(0, 0), time.Date(1600, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 11, 29, 23, 1, 2, 0, time.FixedZone("x", 3600)), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	fast := 0
	for i := 0; i < 5000; i++ {
		tmpl := http.Cookie{
			Name:        pick("session", "__Host-s", "a b", "", "id"),
			Path:        pick("", "/", "/app", "/a;b"),
			Domain:      pick("", "example.com", ".example.com", "bad domain", "127.0.0.1"),
			MaxAge:      rng.IntN(3) - 1,
			Secure:      rng.IntN(2) == 0,
			HttpOnly:    rng.IntN(2) == 0,
			SameSite:    http.SameSite(rng.IntN(5)),
			Partitioned: rng.IntN(2) == 0,
			Quoted:      rng.IntN(8) == 0,
		}
		ct := newCookieTemplate(tmpl)
		c := tmpl
		c.Value = values[rng.IntN(len(values))]
		c.MaxAge = []int{-1, 0, 1, 9, 10, 99, 3600, 34560000}[rng.IntN(8)]
		c.Expires = expiries[rng.IntN(len(expiries))]
		want := c.String()
		if got := ct.String(&c); got != want {
			t.Fatalf("cookie %+v:\n got %q\nwant %q", c, got, want)
		}
		if got := ct.Len(&c); got != len(want) {
			t.Fatalf("cookie %+v: Len = %d, want %d (%q)", c, got, len(want), want)
		}
		if ct.ok && plainCookieValue(c.Value) {
			fast++
		}
	}
	if fast < 500 {
		t.Fatalf("only %d of 5000 cookies took the template: the test checks too little of it", fast)
	}
}

// TestCookieTemplateAllocs checks that a session cookie costs one allocation.
func TestCookieTemplateAllocs(t *testing.T) {
	ct := newCookieTemplate(http.Cookie{Name: "session", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	c := http.Cookie{Name: "session", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", MaxAge: 3600, Expires: time.Now()}
	if n := testing.AllocsPerRun(100, func() { _ = ct.String(&c) }); n != 1 {
		t.Fatalf("%v allocations, want 1", n)
	}
}

// BenchmarkSetCookie compares the session cookie's Set-Cookie value built
// by http.Cookie.String with the one built from the cut template.
func BenchmarkSetCookie(b *testing.B) {
	tmpl := http.Cookie{Name: "session", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}
	c := tmpl
	c.Value, c.MaxAge, c.Expires = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 86400, time.Now().Add(24*time.Hour)
	b.Run("CookieString", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = c.String()
		}
	})
	b.Run("Template", func(b *testing.B) {
		ct := newCookieTemplate(tmpl)
		b.ReportAllocs()
		for b.Loop() {
			_ = ct.String(&c)
		}
	})
}
