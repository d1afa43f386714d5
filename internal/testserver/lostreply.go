package testserver

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// lostReplyTimeouts are the core.Config timeouts CheckLoginWithLostReply
// runs with.
const (
	lostReplyStoreTimeout  = 500 * time.Millisecond
	lostReplyCommitTimeout = 2 * time.Second
)

// CheckLoginWithLostReply checks, on a store s whose server is reached
// through proxy, that a login (Renew and SetUser) whose deciding write
// (op on the old key: core.OpRenew on a store that renews in one call,
// core.OpCompareAndSwap where the core retires the old record itself)
// reaches the server while its reply is lost (Proxy.Mute) ends well:
//
//   - replies flow again as soon as that call has failed: the core finds
//     the renew done and the login succeeds, with a new token that holds
//     the session while the old one is retired;
//   - replies stay lost for 3 s, past the commit's deadline: the request
//     fails, and once the server answers again the core undoes the renew,
//     whose token reached nobody: the old token loads the session as it
//     was, and the user has no session.
//
// Before each, a login of another session runs unhindered, so that the
// server knows the statements or scripts of a login (otherwise what is
// lost is the answer that asks for them, and nothing runs).
func CheckLoginWithLostReply(t *testing.T, s core.Store, proxy *Proxy, op core.StoreOp) {
	t.Helper()
	var muteKey atomic.Value // the old key whose op to mute, "" none
	muteKey.Store("")
	var muteFor atomic.Int64 // how long; 0: until the call returns
	store := core.WrapStore(s, core.StoreWrapper{
		Around: func(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
			if c.Op != op || c.Key == "" || !muteKey.CompareAndSwap(c.Key, "") {
				return next(ctx)
			}
			proxy.Mute()
			if d := time.Duration(muteFor.Load()); d > 0 {
				time.AfterFunc(d, proxy.Unmute)
				return next(ctx)
			}
			defer proxy.Unmute()
			return next(ctx)
		},
	})
	m, err := core.New(core.Config{
		Store: store, StoreTimeout: lostReplyStoreTimeout, CommitTimeout: lostReplyCommitTimeout,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(token string, fn func(s *core.Session)) (string, error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if token != "" {
			r.AddCookie(&http.Cookie{Name: core.DefaultCookieName, Value: token})
		}
		sess := m.Begin(r)
		defer m.Release(sess)
		fn(sess)
		h := http.Header{}
		if err := m.Commit(sess, h); err != nil {
			return token, err
		}
		for _, c := range (&http.Response{Header: h}).Cookies() {
			if c.Name == core.DefaultCookieName {
				return c.Value, nil
			}
		}
		return token, nil
	}
	login := func(s *core.Session) { s.Renew(); s.SetUser("ann") }
	cart := func(label string) string {
		t.Helper()
		tok, err := serve("", func(s *core.Session) { s.Set("cart", 3) })
		if err == nil {
			var warm string
			if warm, err = serve("", func(s *core.Session) { s.Set("cart", 1) }); err == nil {
				_, err = serve(warm, login)
			}
		}
		if err != nil {
			t.Fatalf("%s: setting up: %v", label, err)
		}
		return tok
	}
	// state returns what tok loads.
	state := func(tok string) (cart any, user string, err error) {
		_, err = serve(tok, func(s *core.Session) { cart, _ = s.Get("cart"); user = s.User() })
		return cart, user, err
	}

	t.Run("RepliesBackInTime", func(t *testing.T) {
		tok := cart(t.Name())
		muteFor.Store(0)
		muteKey.Store(core.StoreKey(tok))
		newTok, err := serve(tok, login)
		if err != nil || newTok == tok {
			t.Fatalf("login whose %s reached the server, its reply lost: %v, new token %v; want success and a new token", op, err, newTok != tok)
		}
		if c, u, err := state(newTok); err != nil || c != 3 || u != "ann" {
			t.Errorf("the new token loads cart %v, user %q (%v); want 3 and ann", c, u, err)
		}
		if c, _, err := state(tok); err != nil || c != nil {
			t.Errorf("the pre-login token loads cart %v (%v); want nothing", c, err)
		}
	})

	t.Run("RepliesLostPastTheCommit", func(t *testing.T) {
		tok := cart(t.Name())
		// ann's sessions before the login: the earlier ones and this
		// subtest's warm-up (-1: the store cannot list them).
		annSessions := func() int {
			list, err := m.UserSessions(t.Context(), "ann")
			if err != nil {
				return -1
			}
			return len(list)
		}
		before := annSessions()
		const lost = 3 * time.Second
		muteFor.Store(int64(lost))
		muteKey.Store(core.StoreKey(tok))
		start := time.Now()
		if _, err := serve(tok, login); err == nil {
			t.Fatal("a login whose replies were lost past the commit's deadline succeeded")
		}
		if d := time.Since(start); d > lostReplyCommitTimeout+time.Second {
			t.Errorf("the failed login took %v, want at most about CommitTimeout (%v)", d, lostReplyCommitTimeout)
		}
		time.Sleep(time.Until(start.Add(lost))) // the server answers again
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, u, err := state(tok)
			n := annSessions()
			if err == nil && c == 3 && u == "" && n == before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("10 s after the server answered again, the old token loads cart %v, user %q (%v), and ann has %d sessions; want 3, none and %d", c, u, err, n, before)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
