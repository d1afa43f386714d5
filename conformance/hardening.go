package conformance

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// TestHardening attacks every entry point of a core.Manager backed by the
// stores newStore returns: malformed, duplicated and replayed tokens,
// session fixation, tokens of another Manager, foreign and corrupt records,
// decompression and size bombs, and client-IP binding. Each attack must end
// as "no session" (a fresh one), never as an error, a panic or a store call
// that could be avoided. newStore returns a fresh store for each subtest,
// as for TestStore; the subtests are named after the attack.
//
// The adapter suite covers the same ground through real HTTP; these add the
// store-call accounting, the cross-Manager and cross-codec cases.
func TestHardening(t *testing.T, newStore func(t *testing.T) core.Store) {
	t.Helper()
	t.Run("MalformedTokens", func(t *testing.T) { hardeningMalformedTokens(t, newStore) })
	t.Run("DuplicateTokens", func(t *testing.T) { hardeningDuplicateTokens(t, newStore) })
	t.Run("Fixation", func(t *testing.T) { hardeningFixation(t, newStore) })
	t.Run("ReplayAfterLogout", func(t *testing.T) { hardeningReplayAfterLogout(t, newStore) })
	t.Run("ForeignAndCorruptRecords", func(t *testing.T) { hardeningForeignAndCorruptRecords(t, newStore) })
	t.Run("Bombs", func(t *testing.T) { hardeningBombs(t, newStore) })
	t.Run("OtherManager", func(t *testing.T) { hardeningOtherManager(t, newStore) })
	t.Run("SignedTokens", func(t *testing.T) { hardeningSignedTokens(t, newStore) })
	t.Run("ClientIPBinding", func(t *testing.T) { hardeningClientIPBinding(t, newStore) })
}

// forEachStore runs fn on a fresh store.
func forEachStore(t *testing.T, newStore func(t *testing.T) core.Store, fn func(t *testing.T, st core.Store)) {
	t.Helper()
	fn(t, newStore(t))
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

func hardeningMalformedTokens(t *testing.T, newStore func(t *testing.T) core.Store) {
	forEachStore(t, newStore, func(t *testing.T, inner core.Store) {
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

func hardeningDuplicateTokens(t *testing.T, newStore func(t *testing.T) core.Store) {
	forEachStore(t, newStore, func(t *testing.T, st core.Store) {
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

func hardeningFixation(t *testing.T, newStore func(t *testing.T) core.Store) {
	forEachStore(t, newStore, func(t *testing.T, st core.Store) {
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

func hardeningReplayAfterLogout(t *testing.T, newStore func(t *testing.T) core.Store) {
	forEachStore(t, newStore, func(t *testing.T, st core.Store) {
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

func hardeningOtherManager(t *testing.T, newStore func(t *testing.T) core.Store) {
	keyA, keyB := bytes.Repeat([]byte("a"), 32), bytes.Repeat([]byte("b"), 32)
	forEachStore(t, newStore, func(t *testing.T, st core.Store) {
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

func hardeningForeignAndCorruptRecords(t *testing.T, newStore func(t *testing.T) core.Store) {
	forEachStore(t, newStore, func(t *testing.T, st core.Store) {
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

func hardeningBombs(t *testing.T, newStore func(t *testing.T) core.Store) {
	forEachStore(t, newStore, func(t *testing.T, st core.Store) {
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

func hardeningClientIPBinding(t *testing.T, newStore func(t *testing.T) core.Store) {
	forEachStore(t, newStore, func(t *testing.T, st core.Store) {
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

// hardSigKey is a signing key of the minimum size, every byte b.
func hardSigKey(b byte) []byte { return bytes.Repeat([]byte{b}, core.MinSigningKeySize) }

// hardeningSignedTokens runs signed tokens through the Manager: the value is
// token.signature, it loads back, rotation keeps old values working, and a
// bad signature is no session and costs no store call, for the cookie and
// the header transport.
func hardeningSignedTokens(t *testing.T, newStore func(t *testing.T) core.Store) {
	for _, header := range []string{"", "X-Session-Token"} {
		t.Run("header="+header, func(t *testing.T) {
			st := &countingStore{Store: newStore(t)}
			e := newHEnv(t, core.Config{Store: st, SigningKeys: [][]byte{hardSigKey(7)}, Header: header})
			req := func(value string) hReq {
				if header != "" {
					return hReq{header: []string{value}}
				}
				return hReq{cookies: []string{"session=" + value}}
			}
			value, _ := e.do(t, hReq{fn: func(s *core.Session) { s.Set("user", "ada") }})
			token, sig, ok := strings.Cut(value, ".")
			if !ok || !(core.RandomTokens{}).Valid(token) || len(sig) != 43 {
				t.Fatalf("signed value %q, want token.43-character-signature", value)
			}
			userOf := func(env *hEnv, v string) string {
				var user string
				q := req(v)
				q.fn = func(s *core.Session) { user, _ = core.Value[string](s, "user") }
				env.do(t, q)
				return user
			}
			if u := userOf(e, value); u != "ada" {
				t.Fatalf("the signed value loads user %q, want ada", u)
			}
			rotated := newHEnv(t, core.Config{Store: st, SigningKeys: [][]byte{hardSigKey(8), hardSigKey(7)}, Header: header})
			if u := userOf(rotated, value); u != "ada" {
				t.Errorf("after rotation (new key first, old second) the old value loads %q, want ada", u)
			}
			other := newHEnv(t, core.Config{Store: st, SigningKeys: [][]byte{hardSigKey(9)}, Header: header})
			otherValue, _ := other.do(t, hReq{fn: func(s *core.Session) { s.Set("user", "eve") }})
			for _, bad := range []string{
				token,                       // unsigned
				token + ".",                 // empty signature
				value[:len(value)-2] + "AA", // wrong signature
				value + "A",                 // extended
				otherValue,                  // a live session, signed with another key
			} {
				if bad == value {
					continue
				}
				before := st.loads.Load()
				if u := userOf(e, bad); u != "" {
					t.Errorf("a badly signed value loads user %q", u)
				}
				if n := st.loads.Load() - before; n != 0 {
					t.Errorf("a badly signed value cost %d store loads, want 0", n)
				}
			}
		})
	}
}
