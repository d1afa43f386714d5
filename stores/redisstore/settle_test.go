package redisstore_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/internal/testserver"
)

// mutedLogin is a Manager on a Redis server behind a proxy that drops the
// replies to a login's Renew (the script runs; its answer never comes),
// with a session holding a cart, ready to log in. The replies flow again
// muteFor after the Renew began, or with muteFor 0 when it has failed.
type mutedLogin struct {
	m     *core.Manager
	proxy *testserver.Proxy
	mute  atomic.Bool // mute the next Renew's replies
	for_  time.Duration
	tok   string
}

func newMutedLogin(t *testing.T, muteFor time.Duration) *mutedLogin {
	t.Helper()
	ml := &mutedLogin{proxy: testserver.NewProxy(t, testserver.Redis(t)), for_: muteFor}
	store := core.WrapStore(newStore(t, newClient(t, ml.proxy.Addr)), core.StoreWrapper{
		Around: func(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
			if c.Op != core.OpRenew || !ml.mute.CompareAndSwap(true, false) {
				return next(ctx)
			}
			ml.proxy.Mute()
			if ml.for_ > 0 {
				time.AfterFunc(ml.for_, ml.proxy.Unmute)
				return next(ctx)
			}
			defer ml.proxy.Unmute() // as soon as Renew has failed
			return next(ctx)
		},
	})
	var err error
	ml.m, err = core.New(core.Config{
		Store: store, StoreTimeout: 500 * time.Millisecond, CommitTimeout: 2 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	// A renew first, so that Redis knows the script: otherwise the muted
	// EVALSHA's NOSCRIPT answer is what is lost, and nothing runs.
	warm, err := ml.serve("", func(s *core.Session) { s.Set("cart", 1) })
	if err == nil {
		_, err = ml.serve(warm, func(s *core.Session) { s.Renew() })
	}
	if err != nil {
		t.Fatal(err)
	}
	if ml.tok, err = ml.serve("", func(s *core.Session) { s.Set("cart", 3) }); err != nil {
		t.Fatal(err)
	}
	return ml
}

// serve runs fn in a request carrying token and returns the token the
// client holds afterwards, or the commit's error.
func (ml *mutedLogin) serve(token string, fn func(s *core.Session)) (string, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		r.AddCookie(&http.Cookie{Name: core.DefaultCookieName, Value: token})
	}
	s := ml.m.Begin(r)
	defer ml.m.Release(s)
	fn(s)
	h := http.Header{}
	if err := ml.m.Commit(s, h); err != nil {
		return token, err
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == core.DefaultCookieName {
			return c.Value, nil
		}
	}
	return token, nil
}

// cart returns what tok loads: its cart and user.
func (ml *mutedLogin) cart(t *testing.T, tok string) (any, string) {
	t.Helper()
	var cart any
	var user string
	if _, err := ml.serve(tok, func(s *core.Session) { cart, _ = s.Get("cart"); user = s.User() }); err != nil {
		t.Fatal(err)
	}
	return cart, user
}

// TestLoginWithLostReplyOnRedis: the Renew script runs on the server, and
// its reply is lost (the proxy drops it, and go-redis's retry's too); the
// replies flow again once Renew has failed. The login succeeds:
// the client gets the new token, which holds the session, and the old one
// is retired. Before, the request failed with a timeout while the renew
// stood, and the client's old cookie loaded an empty session.
func TestLoginWithLostReplyOnRedis(t *testing.T) {
	ml := newMutedLogin(t, 0)
	ml.mute.Store(true)
	tok, err := ml.serve(ml.tok, func(s *core.Session) { s.Renew(); s.SetUser("ann") })
	if err != nil || tok == ml.tok {
		t.Fatalf("login whose Renew reply was lost: %v, new token %v; want success and a new token", err, tok != ml.tok)
	}
	if cart, user := ml.cart(t, tok); cart != 3 || user != "ann" {
		t.Errorf("new token: cart %v, user %q; want 3 and ann", cart, user)
	}
	if cart, _ := ml.cart(t, ml.tok); cart != nil {
		t.Errorf("the pre-login token still loads cart %v", cart)
	}
}

// TestLoginWithLostReplyPastTheCommitOnRedis: as above, but the replies
// stay lost past the commit's deadline: the request fails, and once Redis
// answers again the core undoes the renew, whose token reached nobody:
// the old token loads the session as it was.
func TestLoginWithLostReplyPastTheCommitOnRedis(t *testing.T) {
	ml := newMutedLogin(t, 3*time.Second)
	ml.mute.Store(true)
	start := time.Now()
	if _, err := ml.serve(ml.tok, func(s *core.Session) { s.Renew(); s.SetUser("ann") }); err == nil {
		t.Fatal("login whose replies were lost past the commit's deadline succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the failed login took %v, want at most about CommitTimeout (2 s)", d)
	}
	time.Sleep(time.Until(start.Add(3 * time.Second))) // Redis answers again
	deadline := time.Now().Add(7 * time.Second)
	for {
		var cart any
		var user string
		_, err := ml.serve(ml.tok, func(s *core.Session) { cart, _ = s.Get("cart"); user = s.User() })
		if err == nil && cart == 3 && user == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("7 s after Redis answered again the old token loads cart %v, user %q (%v); want 3 and none", cart, user, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	list, err := ml.m.UserSessions(t.Context(), "ann")
	if err != nil || len(list) != 0 {
		t.Errorf("ann's sessions after the undone login: %d, %v; want none", len(list), err)
	}
}
