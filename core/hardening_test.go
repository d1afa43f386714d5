package core_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/file"
	"github.com/sessionkit/sessionkit/stores/memcache"
	"github.com/sessionkit/sessionkit/stores/memory"
	"github.com/sessionkit/sessionkit/stores/postgres"
	"github.com/sessionkit/sessionkit/stores/redis"
)

// The hardening tests attack every entry point of the core through every
// server-side store: memory and file here, redis, memcache and postgres on
// the real servers of internal/testserver (skipped without them unless
// SESSIONKIT_REQUIRE_SERVERS=1). The cookie store's own tests and the
// adapter suite run the token attacks against client-side sessions. The adapter conformance suite covers the
// same ground through real HTTP; these add the store-call accounting, the
// cross-manager and cross-codec cases, and the file store.

// hardStores are the stores the hardening tests run against.
var hardStores = []struct {
	name string
	new  func(t *testing.T) core.Store
}{
	{"memory", func(t *testing.T) core.Store {
		st := memory.New(memory.Config{CleanupInterval: -1})
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"file", func(t *testing.T) core.Store {
		st, err := file.New(file.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"redis", func(t *testing.T) core.Store {
		client := goredis.NewClient(&goredis.Options{Addr: testserver.Redis(t), MaxRetries: -1})
		t.Cleanup(func() { client.Close() })
		st, err := redisstore.New(client, redisstore.Config{KeyPrefix: hardPrefix()})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
	{"memcache", func(t *testing.T) core.Store {
		client := gomemcache.New(testserver.Memcached(t))
		client.Timeout = time.Second
		st, err := memcachestore.New(client, memcachestore.Config{KeyPrefix: hardPrefix()})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
	{"postgres", func(t *testing.T) core.Store {
		dsn := testserver.Postgres(t)
		pool, err := pgxpool.New(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		st, err := postgresstore.New(pool, postgresstore.Config{TableName: testserver.PostgresTable(t, dsn)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.CreateTable(context.Background()); err != nil {
			t.Fatal(err)
		}
		return st
	}},
}

// hardPrefix keeps the tests' records apart on a shared server.
func hardPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("sessionkit-hard:%x:", b)
}

// forEachStore runs fn as a subtest per store.
func forEachStore(t *testing.T, fn func(t *testing.T, st core.Store)) {
	for _, s := range hardStores {
		t.Run(s.name, func(t *testing.T) { fn(t, s.new(t)) })
	}
}

// countingStore counts Loads, to prove that rejected tokens cost no store call.
type countingStore struct {
	core.Store
	loads atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, key string) (core.Record, bool, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, key)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hEnv drives one Manager with raw requests.
type hEnv struct {
	m    *core.Manager
	logs *syncBuffer
}

func newHEnv(t *testing.T, cfg core.Config) *hEnv {
	t.Helper()
	e := &hEnv{logs: &syncBuffer{}}
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	m, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	return e
}

// hReq is one raw request: Cookie header lines (or token header values),
// the remote address and the handler's work.
type hReq struct {
	cookies []string
	header  []string // values of the token header (header transport)
	addr    string
	fn      func(s *core.Session)
}

// do runs q and returns the token the response carries ("" for none) and
// the session's IsNew as the handler saw it first.
func (e *hEnv) do(t *testing.T, q hReq) (token string, wasNew bool) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	if q.addr != "" {
		r.RemoteAddr = q.addr
	}
	if q.cookies != nil {
		r.Header["Cookie"] = q.cookies
	}
	cfg := e.m.Config()
	if q.header != nil {
		r.Header[cfg.Header] = q.header
	}
	s := e.m.Begin(r)
	defer e.m.Release(s)
	wasNew = s.IsNew()
	if err := s.Err(); err != nil {
		t.Fatalf("session error %v; attacks must be no session, not an error", err)
	}
	if q.fn != nil {
		q.fn(s)
	}
	h := http.Header{}
	if err := e.m.Commit(s, h); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	if cfg.Header != "" {
		return h.Get(cfg.Header), wasNew
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == cfg.Cookie.Name && c.MaxAge >= 0 {
			return c.Value, wasNew
		}
	}
	return "", wasNew
}

// login creates a session holding user=name and returns its token.
func (e *hEnv) login(t *testing.T, name string) string {
	t.Helper()
	tok, _ := e.do(t, hReq{fn: func(s *core.Session) { s.Set("user", name) }})
	if tok == "" {
		t.Fatal("no token for a new session")
	}
	return tok
}

// user returns the user the token's session holds ("" for a new session).
func (e *hEnv) user(t *testing.T, cookie string) string {
	t.Helper()
	var user string
	e.do(t, hReq{cookies: []string{cookie}, fn: func(s *core.Session) { user, _ = core.Value[string](s, "user") }})
	return user
}

func TestHardeningMalformedTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, inner core.Store) {
		st := &countingStore{Store: inner}
		e := newHEnv(t, core.Config{Store: st})
		valid := e.login(t, "ada")
		many := make([]string, 300)
		for i := range many {
			many[i] = fmt.Sprintf("session=%044d", i) // one character too long
		}
		for _, c := range []struct{ label, cookie string }{
			{"NUL byte", "session=" + valid[:20] + "\x00" + valid[21:]},
			{"trailing NUL", "session=" + valid + "\x00"},
			{"unicode", "session=" + strings.Repeat("é", 21) + "A"},
			{"unicode look-alike", "session=" + strings.Replace(valid, valid[5:6], "ａ", 1)},
			{"path separators", "session=../../../../etc/passwd/" + valid[:12]},
			{"backslashes", `session=..\..\..\windows\` + valid[:30]},
			{"URL-encoded token", "session=" + url.QueryEscape("%"+valid[1:])},
			{"URL-encoded junk", "session=%00%2e%2e%2f%2e%2e%2fetc%2fpasswd%3b%20x"},
			{"percent-encoded valid token", "session=" + pctEncode(valid)},
			{"64 kB", "session=" + strings.Repeat("A", 64<<10)},
			{"64 kB of the token", "session=" + strings.Repeat(valid, (64<<10)/len(valid))},
			{"300 cookies of the same name", strings.Join(many, "; ")},
			{"valid token with junk appended", "session=" + valid + "junk"},
			{"two values in one cookie", "session=" + valid + "," + valid},
			{"quoted with spaces", `session=" ` + valid + ` "`},
			{"only the name", "session"},
			{"empty", "session="},
		} {
			before := st.loads.Load()
			tok, wasNew := e.do(t, hReq{cookies: []string{c.cookie}, fn: func(s *core.Session) { s.Set("x", 1) }})
			if !wasNew {
				t.Errorf("%s: loaded a session, want a new one", c.label)
			}
			if n := st.loads.Load() - before; n != 0 {
				t.Errorf("%s: %d store loads, want 0 for a malformed token", c.label, n)
			}
			if tok == "" || tok == valid || strings.Contains(c.cookie, tok) {
				t.Errorf("%s: response token reused the client's input or is missing", c.label)
			}
		}
		if got := e.user(t, "session="+valid); got != "ada" {
			t.Errorf("after the attacks the real session holds user %q, want ada", got)
		}
		if strings.Contains(e.logs.String(), valid) {
			t.Error("the log contains a session token")
		}
	})
}

// pctEncode percent-encodes every byte of s.
func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func TestHardeningDuplicateTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, st core.Store) {
		e := newHEnv(t, core.Config{Store: st})
		ada, bob := e.login(t, "ada"), e.login(t, "bob")
		for _, c := range []struct {
			label   string
			cookies []string
			want    string
		}{
			{"junk first, then a token", []string{"session=junk; session=" + ada}, "ada"},
			{"two live tokens in one line: the first wins", []string{"session=" + bob + "; session=" + ada}, "bob"},
			{"two live tokens in two lines: the first wins", []string{"session=" + ada, "session=" + bob}, "ada"},
			{"the token twice", []string{"session=" + ada + "; session=" + ada}, "ada"},
			{"another cookie's value", []string{"other=" + ada}, ""},
			{"name prefix", []string{"xsession=" + ada, "session_=" + ada}, ""},
			{"name in another case", []string{"Session=" + ada}, ""},
		} {
			var user string
			e.do(t, hReq{cookies: c.cookies, fn: func(s *core.Session) { user, _ = core.Value[string](s, "user") }})
			if user != c.want {
				t.Errorf("%s: user %q, want %q", c.label, user, c.want)
			}
		}

		he := newHEnv(t, core.Config{Store: st, Header: "X-Session"})
		tok, _ := he.do(t, hReq{fn: func(s *core.Session) { s.Set("user", "carol") }})
		for _, vals := range [][]string{{tok, tok}, {tok, "junk"}, {"junk", tok}} {
			_, wasNew := he.do(t, hReq{header: vals})
			if !wasNew {
				t.Errorf("header transport with %d values loaded a session; an ambiguous header is no session", len(vals))
			}
		}
		if _, wasNew := he.do(t, hReq{header: []string{" " + tok + "\t"}}); wasNew {
			t.Error("header transport: the token with surrounding whitespace did not load")
		}
	})
}

func TestHardeningFixation(t *testing.T) {
	forEachStore(t, func(t *testing.T, st core.Store) {
		e := newHEnv(t, core.Config{Store: st})
		chosen, _ := core.RandomTokens{}.New()
		got, wasNew := e.do(t, hReq{cookies: []string{"session=" + chosen}, fn: func(s *core.Session) { s.Set("user", "victim") }})
		if !wasNew || got == chosen || got == "" {
			t.Fatal("strict mode adopted a client-chosen token")
		}
		if _, found, _ := st.Load(context.Background(), core.StoreKey(chosen)); found {
			t.Error("a record was stored under the client-chosen token")
		}
		if e.user(t, "session="+chosen) != "" {
			t.Error("the client-chosen token loads a session")
		}

		// An attacker plants a pre-login token; the victim logs in (Renew).
		pre := e.login(t, "anonymous")
		post, _ := e.do(t, hReq{cookies: []string{"session=" + pre}, fn: func(s *core.Session) {
			s.Renew()
			s.Set("user", "victim")
		}})
		if post == "" || post == pre {
			t.Fatal("login with Renew did not issue a new token")
		}
		if u := e.user(t, "session="+pre); u != "" {
			t.Errorf("the pre-login token loads user %q after login, want nothing", u)
		}
		if u := e.user(t, "session="+post); u != "victim" {
			t.Errorf("the post-login token loads user %q, want victim", u)
		}
	})
}

func TestHardeningReplayAfterLogout(t *testing.T) {
	forEachStore(t, func(t *testing.T, st core.Store) {
		e := newHEnv(t, core.Config{Store: st})
		tok := e.login(t, "ada")
		after, _ := e.do(t, hReq{cookies: []string{"session=" + tok}, fn: func(s *core.Session) { s.Destroy() }})
		if after != "" {
			t.Error("logout sent a token, want the cookie expired")
		}
		if _, found, _ := st.Load(context.Background(), core.StoreKey(tok)); found {
			t.Error("the record survived Destroy")
		}
		if u := e.user(t, "session="+tok); u != "" {
			t.Errorf("the token replayed after logout loads user %q, want nothing", u)
		}
	})
}

func TestHardeningOtherManager(t *testing.T) {
	keyA, keyB := bytes.Repeat([]byte("a"), 32), bytes.Repeat([]byte("b"), 32)
	forEachStore(t, func(t *testing.T, st core.Store) {
		a := newHEnv(t, core.Config{Store: st, SigningKeys: [][]byte{keyA}})
		tok := a.login(t, "ada")
		if a.user(t, "session="+tok) != "ada" {
			t.Fatal("the signed token does not load in its own Manager")
		}
		otherName := newHEnv(t, core.Config{Store: st, SigningKeys: [][]byte{keyA}, Cookie: http.Cookie{Name: "admin"}})
		if u := otherName.user(t, "admin="+tok); u != "" {
			t.Errorf("a value signed for cookie session loads user %q under cookie admin", u)
		}
		otherKey := newHEnv(t, core.Config{Store: st, SigningKeys: [][]byte{keyB}})
		if u := otherKey.user(t, "session="+tok); u != "" {
			t.Errorf("a value signed with another key loads user %q", u)
		}
		unsigned := newHEnv(t, core.Config{Store: st})
		if u := unsigned.user(t, "session="+tok); u != "" {
			t.Errorf("a signed value loads user %q in a Manager without signing", u)
		}
		bare, _, _ := strings.Cut(tok, ".")
		if u := a.user(t, "session="+bare); u != "" {
			t.Errorf("the token without its signature loads user %q", u)
		}

		// Without signing, separate stores keep Managers apart.
		other := newHEnv(t, core.Config{Store: memory.New(memory.Config{CleanupInterval: -1})})
		plain := unsigned.login(t, "bob")
		if u := other.user(t, "session="+plain); u != "" {
			t.Errorf("a token of one store loads user %q from another", u)
		}
	})
}

func TestHardeningForeignAndCorruptRecords(t *testing.T) {
	forEachStore(t, func(t *testing.T, st core.Store) {
		bin := newHEnv(t, core.Config{Store: st})
		js := newHEnv(t, core.Config{Store: st, Codec: core.JSONCodec{}})
		for _, c := range []struct {
			label       string
			write, read *hEnv
		}{
			{"JSON record read by BinaryCodec", js, bin},
			{"binary record read by JSONCodec", bin, js},
		} {
			tok := c.write.login(t, "ada")
			if u := c.read.user(t, "session="+tok); u != "" {
				t.Errorf("%s: loaded user %q, want a new session", c.label, u)
			}
			if !strings.Contains(c.read.logs.String(), "cannot be decoded") {
				t.Errorf("%s: no log line", c.label)
			}
			if strings.Contains(c.read.logs.String(), tok) {
				t.Errorf("%s: the log line contains the token", c.label)
			}
		}

		ctx := context.Background()
		for _, c := range []struct {
			label   string
			corrupt func(data []byte) []byte
		}{
			{"truncated", func(d []byte) []byte { return d[:len(d)/2] }},
			{"first byte flipped", func(d []byte) []byte { d[0] ^= 0x55; return d }},
			{"zeroed", func(d []byte) []byte { return make([]byte, len(d)) }},
			{"empty", func([]byte) []byte { return []byte{} }},
		} {
			e := newHEnv(t, core.Config{Store: st})
			tok := e.login(t, "ada")
			rec, found, err := st.Load(ctx, core.StoreKey(tok))
			if err != nil || !found {
				t.Fatalf("%s: Load = %v, %v", c.label, found, err)
			}
			if err := st.Save(ctx, core.StoreKey(tok), c.corrupt(rec.Data), rec.Expiry); err != nil {
				t.Fatal(err)
			}
			var user string
			var wasNew bool
			e.do(t, hReq{cookies: []string{"session=" + tok}, fn: func(s *core.Session) {
				wasNew = s.IsNew()
				user, _ = core.Value[string](s, "user")
			}})
			if !wasNew || user != "" {
				t.Errorf("%s record: IsNew %v, user %q; want a new session", c.label, wasNew, user)
			}
			if !strings.Contains(e.logs.String(), "discarded") {
				t.Errorf("%s record: a new session without a log line", c.label)
			}
		}
	})
}

func TestHardeningBombs(t *testing.T) {
	forEachStore(t, func(t *testing.T, st core.Store) {
		ctx := context.Background()
		// A 2 MiB bomb against a 1 MiB MaxRecordSize; a store with a
		// smaller item limit (memcache) gets a bomb just under its limit
		// and a MaxRecordSize of half that.
		limit, bomb := 1<<20, 2<<20
		if l, ok := st.(interface{ MaxRecordSize() int }); ok && l.MaxRecordSize() < bomb+1024 {
			bomb = l.MaxRecordSize() - 1024
			limit = bomb / 2
		}
		for _, c := range []struct {
			label string
			codec core.Codec
			data  func(valid []byte) []byte
		}{
			{"JSON nested 100000 deep", core.JSONCodec{}, func([]byte) []byte {
				return []byte(`{"created":"2026-01-01T00:00:00Z","values":{"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}}")
			}},
			{"JSON larger than MaxRecordSize", core.JSONCodec{}, func([]byte) []byte {
				return []byte(`{"created":"2026-01-01T00:00:00Z","values":{"x":"` + strings.Repeat("A", bomb-100) + `"}}`)
			}},
			{"binary larger than MaxRecordSize", core.BinaryCodec{}, func(valid []byte) []byte {
				return append(valid, make([]byte, bomb-len(valid))...)
			}},
		} {
			e := newHEnv(t, core.Config{Store: st, Codec: c.codec, MaxRecordSize: limit})
			tok := e.login(t, "ada")
			rec, _, err := st.Load(ctx, core.StoreKey(tok))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Save(ctx, core.StoreKey(tok), c.data(rec.Data), rec.Expiry); err != nil {
				t.Fatal(err)
			}
			if u := e.user(t, "session="+tok); u != "" {
				t.Errorf("%s: loaded user %q, want a new session", c.label, u)
			}
			if !strings.Contains(e.logs.String(), "discarded") {
				t.Errorf("%s: no log line", c.label)
			}
		}
	})
}

func TestHardeningClientIPBinding(t *testing.T) {
	forEachStore(t, func(t *testing.T, st core.Store) {
		e := newHEnv(t, core.Config{Store: st, BindClientIP: true})
		tok, _ := e.do(t, hReq{addr: "[2001:db8::1]:443", fn: func(s *core.Session) { s.Set("user", "ada") }})
		for _, c := range []struct {
			addr string
			want bool
		}{
			{"[2001:db8::1]:9999", true},
			{"[2001:db8::2]:443", false},
			{"192.0.2.1:443", false},
			{"", false},
		} {
			var user string
			e.do(t, hReq{cookies: []string{"session=" + tok}, addr: c.addr + " ", fn: func(s *core.Session) { user, _ = core.Value[string](s, "user") }})
			if (user == "ada") != c.want {
				t.Errorf("token replayed from %q: user %q, want loaded=%v", c.addr, user, c.want)
			}
		}
	})
}

func TestHardeningCookiePrefixes(t *testing.T) {
	st := memory.New(memory.Config{CleanupInterval: -1})
	defer st.Close()
	for _, c := range []struct {
		label string
		ck    http.Cookie
		ok    bool
	}{
		{"__Host- valid", http.Cookie{Name: "__Host-s", Secure: true}, true},
		{"__Host- without Secure", http.Cookie{Name: "__Host-s"}, false},
		{"__Host- with Domain", http.Cookie{Name: "__Host-s", Secure: true, Domain: "example.com"}, false},
		{"__Host- with Path", http.Cookie{Name: "__Host-s", Secure: true, Path: "/app"}, false},
		{"__host- (prefixes match case-insensitively) without Secure", http.Cookie{Name: "__host-s"}, false},
		{"__HOST- with Domain", http.Cookie{Name: "__HOST-s", Secure: true, Domain: "example.com"}, false},
		{"__Secure- valid with Domain and Path", http.Cookie{Name: "__Secure-s", Secure: true, Domain: "example.com", Path: "/app"}, true},
		{"__Secure- without Secure", http.Cookie{Name: "__Secure-s"}, false},
		{"__secure- without Secure", http.Cookie{Name: "__secure-s"}, false},
		{"plain name without Secure", http.Cookie{Name: "s"}, true},
	} {
		_, err := core.New(core.Config{Store: st, Cookie: c.ck})
		if (err == nil) != c.ok {
			t.Errorf("New(%s) = %v, want ok=%v", c.label, err, c.ok)
		}
	}
}
