package core

import (
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
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
		time.Date(2026, 11, 29, 23, 1, 2, 0, time.FixedZone("x", 3600)), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("-5", -5*3600))} // 10000 in UTC
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

// quietLog discards the log for the rest of t: http.Cookie.String logs
// every byte it drops from a value.
func quietLog(t *testing.T) {
	w := log.Writer()
	log.SetOutput(io.Discard)
	t.Cleanup(func() { log.SetOutput(w) })
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

// TestPlainCookieValue checks the rule against http.Cookie.String, and
// plainCookieValue, eight bytes at a time, against the rule byte by byte:
// every byte value at every position of
// values up to 24 bytes long (so in a full word, in a word's every lane
// and in the tail), and random values of up to 300 bytes with no, one or
// several bytes http.Cookie.String drops or quotes.
func TestPlainCookieValue(t *testing.T) {
	// The rule itself, byte by byte, against http.Cookie.String (which
	// logs every byte it drops).
	quietLog(t)
	for b := 0; b < 256; b++ {
		v := "x" + string([]byte{byte(b)}) + "x"
		want := (&http.Cookie{Name: "a", Value: v}).String() == "a="+v
		if notPlainByte(byte(b)) == want || plainByte[b] != want {
			t.Fatalf("byte %#x: notPlainByte %v, plainByte %v; http.Cookie.String writes it as it is: %v", b, notPlainByte(byte(b)), plainByte[b], want)
		}
	}
	slow := func(v string) bool {
		for i := 0; i < len(v); i++ {
			if notPlainByte(v[i]) {
				return false
			}
		}
		return true
	}
	buf := make([]byte, 24)
	for n := 0; n <= len(buf); n++ {
		for i := range buf {
			buf[i] = 'A' + byte(i%26)
		}
		if !plainCookieValue(string(buf[:n])) {
			t.Fatalf("%q: not plain, want plain", buf[:n])
		}
		for p := 0; p < n; p++ {
			for b := 0; b < 256; b++ {
				buf[p] = byte(b)
				v := string(buf[:n])
				if got, want := plainCookieValue(v), !notPlainByte(byte(b)); got != want {
					t.Fatalf("%q (byte %#x at %d): plain = %v, want %v", v, b, p, got, want)
				}
			}
			buf[p] = 'A'
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	good := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!#$%&'()*+/:<=>?@[]^`{|}"
	bad := " \x00\x1f\x20\x7f\x80\xff\",;\\\t"
	plain, notPlain := 0, 0
	for range 20000 {
		b := make([]byte, rng.IntN(300))
		for i := range b {
			b[i] = good[rng.IntN(len(good))]
		}
		for range rng.IntN(3) {
			if len(b) > 0 {
				b[rng.IntN(len(b))] = bad[rng.IntN(len(bad))]
			}
		}
		v := string(b)
		got, want := plainCookieValue(v), slow(v)
		if got != want {
			t.Fatalf("%q: plain = %v, want %v", v, got, want)
		}
		if want {
			plain++
		} else {
			notPlain++
		}
	}
	if plain < 1000 || notPlain < 1000 {
		t.Fatalf("%d plain and %d other values: the test checks too little of one kind", plain, notPlain)
	}
}

// TestCookieTemplateFits checks Fits against the length http.Cookie.String
// writes, for values around MaxCookieSize that it writes as they are,
// quotes or sanitizes, with expiries whose date has four digits in UTC or
// five (also when it has four in its own zone), and for cookies the
// template does not apply to.
func TestCookieTemplateFits(t *testing.T) {
	quietLog(t)
	rng := rand.New(rand.NewPCG(5, 6))
	expiries := []time.Time{time.Now(), {}, time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("-5", -5*3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	tmpls := []http.Cookie{
		{Name: "session", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode},
		{Name: "s", Quoted: true},
		{Name: "bad name"},
	}
	fit, over := 0, 0
	for i := range 20000 {
		tmpl := tmpls[i%len(tmpls)]
		ct := newCookieTemplate(tmpl)
		c := tmpl
		v := make([]byte, MaxCookieSize-120+rng.IntN(130))
		for j := range v {
			v[j] = 'a'
		}
		for range rng.IntN(3) {
			v[rng.IntN(len(v))] = " ,\";\x7f"[rng.IntN(5)]
		}
		c.Value, c.MaxAge, c.Expires = string(v), 3600+rng.IntN(2)*400*86400, expiries[rng.IntN(len(expiries))]
		want := len(c.String())
		for _, limit := range []int{want - 1, want, want + 1, want + 2, MaxCookieSize} {
			n, ok := ct.Fits(&c, limit)
			if wantOK := want != 0 && want <= limit; ok != wantOK {
				t.Fatalf("cookie %q of %d bytes, limit %d: Fits = %d, %v; want %v", c.Name, want, limit, n, ok, wantOK)
			}
			if !ok && n != want {
				t.Fatalf("cookie %q, limit %d: Fits reports %d bytes, want %d", c.Name, limit, n, want)
			}
			if ok && want <= MaxCookieSize {
				fit++
			} else if !ok {
				over++
			}
		}
	}
	if fit < 1000 || over < 1000 {
		t.Fatalf("%d fitting and %d other checks: the test checks too little of one kind", fit, over)
	}
}

// BenchmarkPlainCookieValue measures the check on a server-side session's
// token (43 bytes) and on a sealed client-side session's (300 bytes).
func BenchmarkPlainCookieValue(b *testing.B) {
	for _, n := range []int{43, 300} {
		v := strings.Repeat("A", n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				if !plainCookieValue(v) {
					b.Fatal("not plain")
				}
			}
		})
	}
}
