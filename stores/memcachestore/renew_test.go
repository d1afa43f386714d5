package memcachestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
	"github.com/sessionkit/sessionkit/stores/memcachestore"
)

// twoServers is a store on a client with two servers, A and B, that are
// proxies to one real memcached: each can be killed or held on its own,
// while a store on a direct client with the same key prefix sees what was
// written through either.
type twoServers struct {
	a, b   *testserver.Proxy
	list   *gomemcache.ServerList
	prefix string
	store  *memcachestore.Store // through A and B
	direct *memcachestore.Store // straight to the server
}

func newTwoServers(t *testing.T) *twoServers {
	t.Helper()
	return newTwoServersTimeout(t, 200*time.Millisecond)
}

// newTwoServersTimeout is newTwoServers with the client's Timeout.
func newTwoServersTimeout(t *testing.T, timeout time.Duration) *twoServers {
	t.Helper()
	addr := testserver.Memcached(t)
	ts := &twoServers{a: testserver.NewProxy(t, addr), b: testserver.NewProxy(t, addr), list: new(gomemcache.ServerList), prefix: uniquePrefix()}
	if err := ts.list.SetServers(ts.a.Addr, ts.b.Addr); err != nil {
		t.Fatal(err)
	}
	client := gomemcache.NewFromSelector(ts.list)
	client.Timeout = timeout
	var err error
	if ts.store, err = memcachestore.New(client, memcachestore.Config{KeyPrefix: ts.prefix}); err != nil {
		t.Fatal(err)
	}
	if ts.direct, err = memcachestore.New(newClient(addr), memcachestore.Config{KeyPrefix: ts.prefix}); err != nil {
		t.Fatal(err)
	}
	return ts
}

// keyOn returns a fresh store key whose item lives on the server at addr.
func (ts *twoServers) keyOn(t *testing.T, addr string) string {
	t.Helper()
	for {
		key := newKey()
		a, err := ts.list.PickServer(ts.prefix + key)
		if err != nil {
			t.Fatal(err)
		}
		if a.String() == addr {
			return key
		}
	}
}

// seed creates the record under key through the store, loads it (so that
// the store remembers its CAS id) and returns it.
func (ts *twoServers) seed(t *testing.T, key string, data []byte) core.Record {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.store.CompareAndSwap(ctx, key, 0, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := ts.store.Load(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Load of the seeded record = %v, %v", ok, err)
	}
	return rec
}

// wantOld requires the record under key, read straight from the server,
// to be rec: same data and version. A swap at its version must then win.
func (ts *twoServers) wantOld(t *testing.T, key string, rec core.Record) {
	t.Helper()
	ctx := context.Background()
	got, ok, err := ts.direct.Load(ctx, key)
	if err != nil || !ok || string(got.Data) != string(rec.Data) || got.Version != rec.Version {
		t.Fatalf("old record after the failed renew: found %v, %q at version %d, %v; want %q at version %d, as before",
			ok, got.Data, got.Version, err, rec.Data, rec.Version)
	}
	if _, err := ts.direct.CompareAndSwap(ctx, key, rec.Version, []byte("written after"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("CompareAndSwap at the old record's version after the failed renew = %v, want success", err)
	}
}

// wantGone requires no record under key, read straight from the server.
func (ts *twoServers) wantGone(t *testing.T, key, what string) {
	t.Helper()
	if rec, ok, err := ts.direct.Load(context.Background(), key); err != nil || ok {
		t.Fatalf("%s after the failed renew: found %v (%q), %v; want no record", what, ok, rec.Data, err)
	}
}

// wantFailure requires err to be a failure of the store, not a lost race,
// that names neither key.
func wantFailure(t *testing.T, err error, keys ...string) {
	t.Helper()
	if err == nil || errors.Is(err, core.ErrConflict) || errors.Is(err, core.ErrNotSupported) {
		t.Fatalf("Renew = %v, want a store failure (not a conflict)", err)
	}
	for _, k := range keys {
		if strings.Contains(err.Error(), k) {
			t.Fatalf("Renew's error %q names a store key", err)
		}
	}
}

// TestRenewSuccessorServerDown: the successor's add fails (its server is
// down, or hangs until the client's Timeout) after the old record's cas
// went through: Renew puts the old record back, with its data and
// version, and returns the failure; the old token keeps working. With the
// CAS id remembered from a Load and with a fresh gets; retiring to a
// marker and deleting.
func TestRenewSuccessorServerDown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hang    bool
		oldData bool // pass the loaded record as OldData (no gets)
		retired []byte
		timeout time.Duration
	}{
		{"down/remembered/marker", false, true, []byte("retired"), 0},
		{"down/remembered/delete", false, true, nil, 0},
		{"down/gets/marker", false, false, []byte("retired"), 0},
		{"hung/remembered/marker", true, true, []byte("retired"), 0},
		{"hung/gets/delete", true, false, nil, 0},
		// The undo comes a Timeout after the renew's writes: the
		// tombstone of a deleted record must outlast it.
		{"hung/remembered/delete/1.5s", true, true, nil, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTwoServers(t)
			if tc.timeout != 0 {
				ts = newTwoServersTimeout(t, tc.timeout)
			}
			oldKey, newKey := ts.keyOn(t, ts.a.Addr), ts.keyOn(t, ts.b.Addr)
			rec := ts.seed(t, oldKey, []byte("anonymous cart"))
			if tc.hang {
				ts.b.Hold()
			} else {
				ts.b.Kill()
			}
			r := core.Renewal{
				OldKey: oldKey, OldVersion: rec.Version,
				Retired: tc.retired, RetiredExpiry: time.Now().Add(time.Minute),
				NewKey: newKey, Data: []byte("logged in"), Expiry: time.Now().Add(time.Hour),
			}
			if tc.oldData {
				r.OldData = rec.Data
			}
			err := testserver.Within(t, 5*time.Second, "Renew", func() error {
				_, err := ts.store.Renew(context.Background(), r)
				return err
			})
			wantFailure(t, err, oldKey, newKey)
			if !strings.Contains(err.Error(), "writing the successor") {
				t.Errorf("Renew = %v, want it to say that writing the successor failed", err)
			}
			ts.wantOld(t, oldKey, rec)
		})
	}
}

// TestRenewOldServerDown: the old record's cas fails (its server went down
// after the load) while the successor's add went through: Renew deletes
// the successor again and returns the failure; the old record is as it
// was when the server is back.
func TestRenewOldServerDown(t *testing.T) {
	ts := newTwoServers(t)
	oldKey, newKey := ts.keyOn(t, ts.a.Addr), ts.keyOn(t, ts.b.Addr)
	rec := ts.seed(t, oldKey, []byte("anonymous cart"))
	ts.a.Kill()
	_, err := ts.store.Renew(context.Background(), core.Renewal{
		OldKey: oldKey, OldVersion: rec.Version, OldData: rec.Data,
		Retired: []byte("retired"), RetiredExpiry: time.Now().Add(time.Minute),
		NewKey: newKey, Data: []byte("logged in"), Expiry: time.Now().Add(time.Hour),
	})
	wantFailure(t, err, oldKey, newKey)
	if !strings.Contains(err.Error(), "retiring the old record") {
		t.Errorf("Renew = %v, want it to say that retiring the old record failed", err)
	}
	if strings.Contains(err.Error(), "session is lost") {
		t.Errorf("Renew = %v: it cannot know that the session is lost (the cas may never have arrived)", err)
	}
	ts.wantGone(t, newKey, "the successor")
	ts.a.Release()
	ts.wantOld(t, oldKey, rec)
}

// delayFirstCas returns the address of a proxy to target that holds the
// first cas command sent through it back by delay, longer than the
// client waits for its answer, and passes everything else at once.
func delayFirstCas(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	var delayed atomic.Bool
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { _, _ = io.Copy(c, s) }()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if bytes.HasPrefix(buf[:n], []byte("cas ")) && delayed.CompareAndSwap(false, true) {
							time.Sleep(delay)
						}
						if _, err := s.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// TestRenewLateCas: the old record's cas gets no answer within the
// client's Timeout, but reaches the server later, after Renew has
// returned its failure. The undo must have made that late cas fail: the
// old record is still the visitor's session afterwards.
func TestRenewLateCas(t *testing.T) {
	ctx := context.Background()
	addr := testserver.Memcached(t)
	slow := delayFirstCas(t, addr, 600*time.Millisecond)
	list := new(gomemcache.ServerList)
	if err := list.SetServers(slow, addr); err != nil {
		t.Fatal(err)
	}
	client := gomemcache.NewFromSelector(list)
	client.Timeout = 200 * time.Millisecond
	prefix := uniquePrefix()
	store, err := memcachestore.New(client, memcachestore.Config{KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := memcachestore.New(newClient(addr), memcachestore.Config{KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	keyOn := func(server string) string {
		for {
			k := newKey()
			if a, err := list.PickServer(prefix + k); err == nil && a.String() == server {
				return k
			}
		}
	}
	oldKey, newKey := keyOn(slow), keyOn(addr)
	if _, err := store.CompareAndSwap(ctx, oldKey, 0, []byte("anonymous cart"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := store.Load(ctx, oldKey)
	if err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	_, err = store.Renew(ctx, core.Renewal{
		OldKey: oldKey, OldVersion: rec.Version, OldData: rec.Data,
		Retired: []byte("retired"), RetiredExpiry: time.Now().Add(time.Minute),
		NewKey: newKey, Data: []byte("logged in"), Expiry: time.Now().Add(time.Hour),
	})
	wantFailure(t, err, oldKey, newKey)
	time.Sleep(time.Second) // the late cas arrives
	got, ok, err := direct.Load(ctx, oldKey)
	if err != nil || !ok || string(got.Data) != "anonymous cart" || got.Version != rec.Version {
		t.Fatalf("old record after the late cas: found %v, %q at version %d, %v; want the session as before", ok, got.Data, got.Version, err)
	}
	if _, ok, _ := direct.Load(ctx, newKey); ok {
		t.Fatal("the successor is still there after the failed renew")
	}
}

// TestRenewHeldPastItsCommitIsUndone: a renew's two writes are held on
// their way (both servers' proxies hold) past the commit's deadline, so
// the request fails; when the proxies let them through they land, and the
// core, which keeps asking in the background after such a failure, finds
// the renew done and undoes it, since its new token reached nobody: the
// old token loads the session again. The store itself takes back nothing
// once Renew has returned (the core may have found the renew done and
// sent its token).
func TestRenewHeldPastItsCommitIsUndone(t *testing.T) {
	ts := newTwoServersTimeout(t, 2*time.Second)
	var hold atomic.Bool
	store := core.WrapStore(ts.store, core.StoreWrapper{
		Around: func(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
			if c.Op == core.OpRenew && hold.CompareAndSwap(true, false) {
				ts.a.Hold()
				ts.b.Hold()
			}
			return next(ctx)
		},
	})
	m, err := core.New(core.Config{
		Store: store, StoreTimeout: 300 * time.Millisecond, CommitTimeout: 800 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := serveSession(m, "", func(s *core.Session) { s.Set("cart", 3) })
	if err != nil {
		t.Fatal(err)
	}
	hold.Store(true)
	start := time.Now()
	if _, err := serveSession(m, tok, func(s *core.Session) { s.Renew() }); err == nil {
		t.Fatal("a renew held past its commit's deadline succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the held renew's request took %v, want about CommitTimeout (800 ms)", d)
	}
	ts.a.Release()
	ts.b.Release()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var cart any
		if _, err := serveSession(m, tok, func(s *core.Session) { cart, _ = s.Get("cart") }); err == nil && cart == 3 {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("5 s after the held writes landed, the old token loads cart %v (%v); want 3", cart, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRenewLostRaceTakesBackTheSuccessor: the old record changed between
// the load and the renew (another process wrote it): the cas loses, the
// successor's add went through and is deleted again, and Renew reports a
// conflict, which sends the core down its two-step path.
func TestRenewLostRaceTakesBackTheSuccessor(t *testing.T) {
	ts := newTwoServers(t)
	oldKey, newKey := ts.keyOn(t, ts.a.Addr), ts.keyOn(t, ts.b.Addr)
	rec := ts.seed(t, oldKey, []byte("anonymous cart"))
	v2, err := ts.direct.CompareAndSwap(context.Background(), oldKey, rec.Version, []byte("changed"), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.store.Renew(context.Background(), core.Renewal{
		OldKey: oldKey, OldVersion: rec.Version, OldData: rec.Data,
		Retired: []byte("retired"), RetiredExpiry: time.Now().Add(time.Minute),
		NewKey: newKey, Data: []byte("logged in"), Expiry: time.Now().Add(time.Hour),
	})
	if !errors.Is(err, core.ErrConflict) {
		t.Fatalf("Renew of a record changed since the load = %v, want core.ErrConflict", err)
	}
	ts.wantGone(t, newKey, "the successor")
	ts.wantOld(t, oldKey, core.Record{Data: []byte("changed"), Version: v2})
}

// serveSession serves one request with token (none when "") through m:
// fn runs on its session, and the request commits. It returns the token
// the response sets, or token when it sets none, or the commit's error.
func serveSession(m *core.Manager, token string, fn func(s *core.Session)) (string, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		r.Header.Set("Cookie", m.Config().Cookie.Name+"="+token)
	}
	s := m.Begin(r)
	defer m.Release(s)
	fn(s)
	hdr := http.Header{}
	if err := m.Commit(s, hdr); err != nil {
		return "", err
	}
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == m.Config().Cookie.Name && c.MaxAge >= 0 {
			return c.Value, nil
		}
	}
	return token, nil
}

// TestLoginWithSuccessorServerDown drives logins through the core while
// the server of half the keys is down: a login whose new key lands there
// fails through the error handler, and the visitor's pre-login session is
// still there under the old token; one whose new key lands on the live
// server succeeds, and its old token loads nothing.
func TestLoginWithSuccessorServerDown(t *testing.T) {
	ts := newTwoServers(t)
	m, err := core.New(core.Config{Store: ts.store})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(token string, fn func(s *core.Session)) (string, error) { return serveSession(m, token, fn) }
	cart := func(token string) any {
		var v any
		if _, err := serve(token, func(s *core.Session) { v, _ = s.Get("cart") }); err != nil {
			t.Fatalf("reading the cart: %v", err)
		}
		return v
	}
	ts.b.Kill()
	failed, succeeded := 0, 0
	for i := 0; failed < 3 || succeeded < 3; i++ {
		if i == 200 {
			t.Fatalf("after 200 logins: %d failed, %d succeeded; want both kinds", failed, succeeded)
		}
		// A visitor whose session lives on the live server A.
		tok, err := serve("", func(s *core.Session) { s.Set("cart", i) })
		if err != nil {
			continue // its new key landed on the dead server B
		}
		a, _ := ts.list.PickServer(ts.prefix + core.StoreKey(tok))
		if a.String() != ts.a.Addr {
			t.Fatalf("a new session was stored on the dead server")
		}
		renewed, err := serve(tok, func(s *core.Session) { s.Renew(); s.Set("user", "ann") })
		if err != nil {
			failed++
			if got := cart(tok); got != i {
				t.Fatalf("after a login that failed on the successor's server: the old token's cart is %v, want %d", got, i)
			}
			continue
		}
		succeeded++
		if renewed == tok {
			t.Fatal("the login kept the token")
		}
		if got := cart(renewed); got != i {
			t.Fatalf("after a login: the new token's cart is %v, want %d", got, i)
		}
		if got := cart(tok); got != nil {
			t.Fatalf("after a login: the old token still loads a cart (%v)", got)
		}
	}
	t.Logf("%d logins failed on the dead server and kept their session; %d succeeded", failed, succeeded)
}

// TestRenewDeclinesFiledSessions: a renew that files the successor under a
// user, or whose old record is filed under one, is left to the core's
// separate steps (ErrNotSupported), with nothing written.
func TestRenewDeclinesFiledSessions(t *testing.T) {
	ctx := context.Background()
	ts := newTwoServers(t)
	for _, tc := range []struct {
		name             string
		oldUser, newUser string
	}{
		{"successor filed", "", "ann"},
		{"old record filed", "ann", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldKey, newKey := ts.keyOn(t, ts.a.Addr), ts.keyOn(t, ts.b.Addr)
			exp := time.Now().Add(time.Hour)
			if _, err := ts.store.CompareAndSwapUser(ctx, oldKey, 0, []byte("cart"), exp, tc.oldUser, exp); err != nil {
				t.Fatal(err)
			}
			rec, ok, err := ts.store.Load(ctx, oldKey)
			if err != nil || !ok {
				t.Fatalf("Load = %v, %v", ok, err)
			}
			_, err = ts.store.Renew(ctx, core.Renewal{
				OldKey: oldKey, OldVersion: rec.Version, OldData: rec.Data,
				Retired: []byte("retired"), RetiredExpiry: time.Now().Add(time.Minute),
				NewKey: newKey, Data: []byte("logged in"), Expiry: exp, User: tc.newUser, Until: exp,
			})
			if !errors.Is(err, core.ErrNotSupported) {
				t.Fatalf("Renew = %v, want core.ErrNotSupported", err)
			}
			ts.wantGone(t, newKey, "the successor")
			ts.wantOld(t, oldKey, rec)
		})
	}
}

// TestLoginsUnderPressure: 192 visitors log in while four writers each keep
// writing to their sessions with the pre-login token, through two Managers
// on two store instances (two application servers) over two memcached
// servers. Half the logins file a user (the core's separate steps), half
// do not (Renew). No request fails; every login's token loads the
// visitor's cart and user; every pre-login token loads nothing afterwards;
// and each writer's value in the successor, if any, is one it wrote.
func TestLoginsUnderPressure(t *testing.T) {
	a, b := testserver.StartMemcached(t).Addr, testserver.StartMemcached(t).Addr
	prefix := uniquePrefix()
	var renews, renewConflicts atomic.Int64
	count := func(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
		err := next(ctx)
		if c.Op == core.OpRenew {
			renews.Add(1)
			if errors.Is(err, core.ErrConflict) {
				renewConflicts.Add(1)
			}
		}
		return err
	}
	var managers [2]*core.Manager
	for i := range managers {
		st, err := memcachestore.New(newClient(a, b), memcachestore.Config{KeyPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		managers[i], err = core.New(core.Config{
			Store:  core.WrapStore(st, core.StoreWrapper{Around: count}),
			Logger: slog.New(slog.DiscardHandler), // dropped pre-login writes are logged
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	serve := serveSession
	const visitors, writers, writes = 192, 4, 8
	var wg sync.WaitGroup
	errs := make(chan error, visitors*(writers+1)*writes)
	type result struct{ old, renewed string }
	results := make([]result, visitors)
	for v := range visitors {
		old, err := serve(managers[v%2], "", func(s *core.Session) { s.Set("cart", v) })
		if err != nil {
			t.Fatal(err)
		}
		results[v].old = old
		for w := range writers {
			wg.Go(func() {
				for i := range writes {
					if _, err := serve(managers[(v+w+i)%2], old, func(s *core.Session) { s.Set(fmt.Sprintf("w%d", w), i) }); err != nil {
						errs <- fmt.Errorf("visitor %d, writer %d: %w", v, w, err)
					}
				}
			})
		}
		wg.Go(func() {
			renewed, err := serve(managers[(v+1)%2], old, func(s *core.Session) {
				s.Renew()
				if v%2 == 0 {
					s.SetUser(fmt.Sprintf("user-%d", v))
				} else {
					s.Set("user", fmt.Sprintf("user-%d", v))
				}
			})
			if err != nil {
				errs <- fmt.Errorf("visitor %d, login: %w", v, err)
			}
			results[v].renewed = renewed
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d logins: %d Renew calls, %d of them lost a race and took the core's separate steps", visitors, renews.Load(), renewConflicts.Load())
	if renews.Load()-renewConflicts.Load() == 0 {
		t.Error("no login went through Renew")
	}
	for v, r := range results {
		if r.renewed == "" || r.renewed == r.old {
			t.Errorf("visitor %d: the login issued no new token", v)
			continue
		}
		want := fmt.Sprintf("user-%d", v)
		if _, err := serve(managers[v%2], r.renewed, func(s *core.Session) {
			user, _ := s.Get("user")
			if v%2 == 0 {
				user = s.User()
			}
			if cart, _ := s.Get("cart"); cart != v || user != want {
				t.Errorf("visitor %d after the login: cart %v, user %v; want %d and %s", v, cart, user, v, want)
			}
			for w := range writers {
				if x, ok := s.Get(fmt.Sprintf("w%d", w)); ok {
					if n, isInt := x.(int); !isInt || n < 0 || n >= writes {
						t.Errorf("visitor %d: writer %d's value is %v, which it never wrote", v, w, x)
					}
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := serve(managers[(v+1)%2], r.old, func(s *core.Session) {
			if keys := s.Keys(); len(keys) != 0 {
				t.Errorf("visitor %d: the pre-login token still loads %q", v, keys)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoginWithLostReply: the retirement's cas of a login (a renew that
// files the session under a user takes the core's two steps) reaches
// memcached while its reply is lost on the way back; see
// testserver.CheckLoginWithLostReply.
func TestLoginWithLostReply(t *testing.T) {
	proxy := testserver.NewProxy(t, testserver.Memcached(t))
	client := gomemcache.New(proxy.Addr)
	client.Timeout = 2 * time.Second
	s, err := memcachestore.New(client, memcachestore.Config{KeyPrefix: uniquePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	testserver.CheckLoginWithLostReply(t, s, proxy, core.OpCompareAndSwap)
}
