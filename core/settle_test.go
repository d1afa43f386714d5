package core_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// errReplyLost is what a replyLoser returns for a call whose reply it
// "loses": a timeout, which says nothing of whether the call took effect.
var errReplyLost = errors.New("test store: i/o timeout")

// lossMode is what a replyLoser does with the call it was armed for.
type lossMode uint8

const (
	lossApplied lossMode = iota // the call takes effect; its reply is lost
	lossRefused                 // the call never reaches the store
	lossLate                    // the call is held: late() sends it on, after the error
	lossRetried                 // the call takes effect, its reply is lost, and it is sent again
)

// replyLoser wraps a store (with core.WrapStore) and spoils one call, the
// first of op on key once armed; while down, every call fails without
// reaching the store.
type replyLoser struct {
	mu        sync.Mutex
	armed     bool
	op        core.StoreOp
	key       string
	mode      lossMode
	downAfter bool // go down right after the spoilt call
	down      bool
	late      func() error
}

func (l *replyLoser) arm(op core.StoreOp, key string, mode lossMode, downAfter bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed, l.op, l.key, l.mode, l.downAfter = true, op, key, mode, downAfter
}

func (l *replyLoser) setDown(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = down
}

func (l *replyLoser) around(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		return errors.New("test store: connection refused")
	}
	hit := l.armed && c.Op == l.op && c.Key == l.key
	if hit {
		l.armed = false
	}
	mode, downAfter := l.mode, l.downAfter
	if hit && mode == lossLate {
		l.late = func() error { return next(context.Background()) }
	}
	l.mu.Unlock()
	if !hit {
		return next(ctx)
	}
	switch mode {
	case lossApplied:
		if err := next(ctx); err != nil {
			return err
		}
	case lossRetried:
		// The store's client sends it again after a read timeout, as
		// go-redis does: the second answer (a conflict) is the caller's.
		if err := next(ctx); err != nil {
			return err
		}
		return next(ctx)
	}
	if downAfter {
		l.setDown(true)
	}
	return errReplyLost
}

// lockedBuffer is a log sink that the background settling may write to
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// settleEnv is a Manager on a memory store behind a replyLoser, with a
// session holding a cart (tok) ready to log in.
type settleEnv struct {
	h    *harness
	mem  *memory.Store
	loss *replyLoser
	tok  string
	logs *lockedBuffer
}

// settlePaths are the three ways a store renews: one Renewer call, a
// compare-and-swap store's two steps, and a plain store's Save of the
// marker.
var settlePaths = []struct {
	name string
	op   core.StoreOp // the call that decides the renew, on the old key
	wrap func(m *memory.Store) core.Store
}{
	{"Renewer", core.OpRenew, func(m *memory.Store) core.Store { return m }},
	{"TwoSteps", core.OpCompareAndSwap, func(m *memory.Store) core.Store {
		return struct {
			core.Store
			core.UserIndexer
		}{m, m}
	}},
	{"PlainStore", core.OpSave, func(m *memory.Store) core.Store { return struct{ core.Store }{m} }},
}

func newSettleEnv(t *testing.T, wrap func(*memory.Store) core.Store) *settleEnv {
	t.Helper()
	return newSettleEnvGrace(t, wrap, 0)
}

// newSettleEnvGrace is newSettleEnv with Config.RenewGrace set to grace.
func newSettleEnvGrace(t *testing.T, wrap func(*memory.Store) core.Store, grace time.Duration) *settleEnv {
	t.Helper()
	e := &settleEnv{mem: memory.New(memory.Config{}), loss: new(replyLoser), logs: new(lockedBuffer)}
	t.Cleanup(func() { _ = e.mem.Close() })
	e.h = newHarness(t, core.Config{
		Store:        core.WrapStore(wrap(e.mem), core.StoreWrapper{Around: e.loss.around}),
		StoreTimeout: time.Second, CommitTimeout: 2 * time.Second, RenewGrace: grace,
	})
	e.h.m = e.managerLogging(t)
	e.tok, _ = e.h.request(t, "", func(s *core.Session) { s.Set("cart", 3) })
	return e
}

// managerLogging returns the harness's Manager again, logging to e.logs.
func (e *settleEnv) managerLogging(t *testing.T) *core.Manager {
	t.Helper()
	cfg := e.h.m.Config()
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	m, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// login logs tok's session in as ann, returning the token the client
// holds afterwards and the commit's error.
func (e *settleEnv) login(tok string) (string, error) {
	s, hdr := e.h.begin(tok, "192.0.2.1:1234")
	defer e.h.m.Release(s)
	s.Renew()
	s.SetUser("ann")
	if err := e.h.m.Commit(s, hdr); err != nil {
		return tok, err
	}
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == "session" {
			return c.Value, nil
		}
	}
	return tok, nil
}

// wantLoggedIn logs e.tok's session in and requires the login to succeed
// (what says how it was hindered): a new token that holds the session and
// ann, and the old token retired. It returns the new token.
func (e *settleEnv) wantLoggedIn(t *testing.T, what string) string {
	t.Helper()
	tok, err := e.login(e.tok)
	if err != nil || tok == e.tok {
		t.Fatalf("%s: Commit = %v, new token %v; want success and a new token", what, err, tok != e.tok)
	}
	if cart, user := e.state(t, tok); cart != 3 || user != "ann" {
		t.Errorf("%s: the new token loads cart %v, user %q; want 3 and ann", what, cart, user)
	}
	if cart, _ := e.state(t, e.tok); cart != nil {
		t.Errorf("%s: the pre-login token still loads cart %v", what, cart)
	}
	return tok
}

// wantLoginFails logs e.tok's session in and requires the commit to fail
// (what says how the login was hindered).
func (e *settleEnv) wantLoginFails(t *testing.T, what string) {
	t.Helper()
	if _, err := e.login(e.tok); err == nil {
		t.Fatalf("%s: Commit succeeded, want an error", what)
	}
}

// wantAnnSessions requires ann to have n sessions.
func (e *settleEnv) wantAnnSessions(t *testing.T, n int) {
	t.Helper()
	if got := e.annSessions(t); got != n {
		t.Errorf("ann has %d sessions, want %d", got, n)
	}
}

// state returns what tok loads: its cart ("" none) and user.
func (e *settleEnv) state(t *testing.T, tok string) (cart any, user string) {
	t.Helper()
	e.h.request(t, tok, func(s *core.Session) {
		cart, _ = s.Get("cart")
		user = s.User()
	})
	return cart, user
}

// endDirectly ends every session filed under user in the store itself,
// past the core and its reply-losing wrapper, as another process's
// EndUserSessions would, and checks that there was one to end.
func (e *settleEnv) endDirectly(t *testing.T, user string) {
	t.Helper()
	keys, err := e.mem.UserKeys(t.Context(), user)
	if err != nil || len(keys) == 0 {
		t.Fatalf("%s's keys in the store: %d, %v; want the successor's", user, len(keys), err)
	}
	for _, k := range keys {
		rec, ok, err := e.mem.Load(t.Context(), k)
		if err != nil || !ok {
			t.Fatalf("loading %s's record: %v, %v", user, ok, err)
		}
		if _, err := e.mem.CompareAndSwap(t.Context(), k, rec.Version, nil, time.Unix(1, 0)); err != nil {
			t.Fatal(err)
		}
	}
}

// annSessions counts ann's sessions (none on the plain store, which
// keeps no user index: it is not asked).
func (e *settleEnv) annSessions(t *testing.T) int {
	t.Helper()
	list, err := e.h.m.UserSessions(t.Context(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestLoginWithLostReply: the write that decides a login's renew takes
// effect, but its reply never comes (a timeout). The commit finds out and
// succeeds: the client gets the new token, which holds the session, and
// the old one is retired. Before, the request failed while the renew
// stood: the old cookie, all the client had, loaded an empty session
// whose changes were dropped, and the session was lost.
func TestLoginWithLostReply(t *testing.T) {
	for _, p := range settlePaths {
		t.Run(p.name, func(t *testing.T) {
			e := newSettleEnv(t, p.wrap)
			e.loss.arm(p.op, core.StoreKey(e.tok), lossApplied, false)
			tok := e.wantLoggedIn(t, "login whose renew took effect with its reply lost")
			if strings.Contains(e.logs.String(), e.tok) || strings.Contains(e.logs.String(), tok) {
				t.Error("a token appears in the log")
			}
		})
	}
}

// TestLoginRefusedKeepsTheSession: the deciding write fails without
// reaching the store. The request fails, the old token loads the session
// as it was, nothing of the failed login is left (no session of ann: the
// two-step path's successor is deleted), and logging in again works.
func TestLoginRefusedKeepsTheSession(t *testing.T) {
	for _, p := range settlePaths[:2] { // a plain store's Save is sent again (see TestLoginWithLostReply)
		t.Run(p.name, func(t *testing.T) {
			e := newSettleEnv(t, p.wrap)
			e.loss.arm(p.op, core.StoreKey(e.tok), lossRefused, false)
			if _, err := e.login(e.tok); !errors.Is(err, errReplyLost) {
				t.Fatalf("login whose renew never reached the store: Commit = %v, want the store's error", err)
			}
			if cart, user := e.state(t, e.tok); cart != 3 || user != "" {
				t.Errorf("after the failed login the old token loads cart %v, user %q; want 3 and none", cart, user)
			}
			if n := e.annSessions(t); n != 0 {
				t.Errorf("after the failed login ann has %d sessions, want 0", n)
			}
			tok, err := e.login(e.tok)
			if err != nil || tok == e.tok {
				t.Fatalf("login again: %v, new token %v", err, tok != e.tok)
			}
			if cart, user := e.state(t, tok); cart != 3 || user != "ann" {
				t.Errorf("after logging in again: cart %v, user %q; want 3 and ann", cart, user)
			}
		})
	}
}

// TestLoginLateWriteIsFenced: the deciding write is held on its way (a
// slow network) and the core is told it timed out; once the core has
// settled the renew as not done, the write arrives, and must fail: the
// old token still holds the session.
func TestLoginLateWriteIsFenced(t *testing.T) {
	for _, p := range settlePaths[:2] { // a plain store has no version to fence with
		t.Run(p.name, func(t *testing.T) {
			e := newSettleEnv(t, p.wrap)
			e.loss.arm(p.op, core.StoreKey(e.tok), lossLate, false)
			if _, err := e.login(e.tok); !errors.Is(err, errReplyLost) {
				t.Fatalf("login whose renew is held: Commit = %v, want the store's error", err)
			}
			e.loss.mu.Lock()
			late := e.loss.late
			e.loss.mu.Unlock()
			if err := late(); !errors.Is(err, core.ErrConflict) {
				t.Errorf("the held write, arriving after the request failed: %v, want core.ErrConflict", err)
			}
			if cart, user := e.state(t, e.tok); cart != 3 || user != "" {
				t.Errorf("after the late write the old token loads cart %v, user %q; want 3 and none", cart, user)
			}
			e.wantAnnSessions(t, 0)
		})
	}
}

// TestLoginUndoneInTheBackground: the deciding write takes effect, then
// the store stops answering, so the commit cannot find out within its
// deadline and fails. When the store is back, the core finds the renew
// done and undoes it, since its new token reached nobody: the old token
// loads the session as it was, and ann has no session.
func TestLoginUndoneInTheBackground(t *testing.T) {
	for _, p := range settlePaths[:2] {
		t.Run(p.name, func(t *testing.T) {
			e := newSettleEnv(t, p.wrap)
			e.loss.arm(p.op, core.StoreKey(e.tok), lossApplied, true)
			start := time.Now()
			e.wantLoginFails(t, "login with the store down after its renew")
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("the failed login took %v, more than CommitTimeout and a second", d)
			}
			time.Sleep(300 * time.Millisecond)
			e.loss.setDown(false)
			deadline := time.Now().Add(5 * time.Second)
			for {
				cart, user := e.state(t, e.tok)
				n := e.annSessions(t)
				if cart == 3 && user == "" && n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("5 s after the store came back: the old token loads cart %v, user %q, and ann has %d sessions; want 3, none and 0", cart, user, n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(e.logs.String(), "undone") {
				t.Errorf("no log of the undone renew:\n%s", e.logs.String())
			}
		})
	}
}

// TestLoginRetriedByTheClient: the write that decides a login takes
// effect, its reply is lost, and the store's client library sends it
// again (go-redis retries a command after a read timeout), which then
// conflicts with its own first effect. The login must still succeed
// (before, the core took the conflict for a concurrent logout, deleted
// the successor and dropped the login, leaving the old token retired).
func TestLoginRetriedByTheClient(t *testing.T) {
	for _, p := range settlePaths[:2] {
		t.Run(p.name, func(t *testing.T) {
			e := newSettleEnv(t, p.wrap)
			e.loss.arm(p.op, core.StoreKey(e.tok), lossRetried, false)
			e.wantLoggedIn(t, "login whose deciding write was sent twice")
			e.wantAnnSessions(t, 1)
		})
	}
}

// TestConcurrentLoginsDoNotFork: two requests of one session log in at
// once, on a clock that stands still (both renews date their markers
// alike). The second finds the old record retired by the first, and must
// not take that marker for its own (a marker's value is random): one
// session of ann comes out, not two.
func TestConcurrentLoginsDoNotFork(t *testing.T) {
	for _, p := range settlePaths[:2] {
		t.Run(p.name, func(t *testing.T) {
			e := newSettleEnv(t, p.wrap)
			a, ha := e.h.begin(e.tok, "192.0.2.1:1234")
			b, hb := e.h.begin(e.tok, "192.0.2.1:1234")
			for _, s := range []*core.Session{a, b} {
				s.Get("cart") // both loaded before either commits
				s.Renew()
				s.SetUser("ann")
			}
			tokA, _ := e.h.commit(t, a, e.tok, ha)
			tokB, _ := e.h.commit(t, b, e.tok, hb)
			if tokA == e.tok {
				t.Fatal("the first login sent no new token")
			}
			if tokB != e.tok {
				t.Errorf("the second login, which lost to the first, was sent a token of its own")
			}
			if n := e.annSessions(t); n != 1 {
				t.Errorf("after two concurrent logins of one session ann has %d sessions, want 1", n)
			}
		})
	}
}

// TestSettlingIsBounded: in an outage every login may fail with an unknown
// outcome; at most 256 are settled in the background at once (the store,
// once back, must not meet a herd of them), and the others are left with
// an error in the log.
func TestSettlingIsBounded(t *testing.T) {
	mem := memory.New(memory.Config{})
	t.Cleanup(func() { _ = mem.Close() })
	var mu sync.Mutex
	silent := map[string]bool{} // old keys whose calls fail once renewed
	healed := false
	around := func(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
		mu.Lock()
		fail := silent[c.Key] && !healed
		mu.Unlock()
		if fail {
			return errors.New("test store: connection refused")
		}
		if c.Op != core.OpRenew {
			return next(ctx)
		}
		if err := next(ctx); err != nil {
			return err
		}
		mu.Lock()
		silent[c.Key] = true
		mu.Unlock()
		return errReplyLost
	}
	logs := new(lockedBuffer)
	h := newHarness(t, core.Config{Store: core.WrapStore(mem, core.StoreWrapper{Around: around})})
	cfg := h.m.Config()
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	m, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	const logins = 300
	toks := make([]string, logins)
	for i := range toks {
		toks[i], _ = h.request(t, "", func(s *core.Session) { s.Set("cart", 3) })
	}
	for _, tok := range toks {
		s, hdr := h.begin(tok, "192.0.2.1:1234")
		s.Renew()
		if err := h.m.Commit(s, hdr); !errors.Is(err, errReplyLost) {
			t.Fatalf("login in the outage: Commit = %v, want the store's error", err)
		}
		h.m.Release(s)
	}
	if n := strings.Count(logs.String(), "too many renews"); n != logins-256 {
		t.Errorf("%d logins left unsettled, want %d", n, logins-256)
	}
	mu.Lock()
	healed = true
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		back := 0
		for _, tok := range toks {
			h.request(t, tok, func(s *core.Session) {
				if v, _ := s.Get("cart"); v == 3 {
					back++
				}
			})
		}
		if back == 256 {
			break
		}
		if back > 256 || time.Now().After(deadline) {
			t.Fatalf("%d pre-login sessions are back after the outage, want the 256 settled in the background", back)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestUndoNeverRevivesAUsersSession: a logged-in session renews again (a
// re-authentication); the renew takes effect, the store stops answering,
// and the request fails. The user then logs out with the only token they
// have, the old one, which is retired and so cannot (its requests are
// dropped). When the store answers again the background settling must not
// put the old record back: the old token would load the user again after
// the logout. The successor, which nobody holds, is ended; so the user has
// no session. Also without RenewGrace, where the renew deleted the old
// record and nothing tells that deletion from the logout's. The
// *Ended cases end ann's sessions instead (EndUserSessions, say, from
// another process) while the core cannot reach the store yet, so that the
// settling finds the successor already ended: the old record must not come
// back either.
func TestUndoNeverRevivesAUsersSession(t *testing.T) {
	for _, tc := range []struct {
		name  string
		path  int
		op    core.StoreOp
		grace time.Duration
		ended bool // ann's sessions are ended before the store answers the core again, instead of the logout
	}{
		{"Renewer", 0, core.OpRenew, 0, false},
		{"TwoSteps", 1, core.OpCompareAndSwapUser, 0, false}, // the old record leaves ann's list
		{"RenewerWithoutGrace", 0, core.OpRenew, -1, false},
		{"RenewerEnded", 0, core.OpRenew, 0, true},
		{"TwoStepsEnded", 1, core.OpCompareAndSwapUser, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSettleEnvGrace(t, settlePaths[tc.path].wrap, tc.grace)
			e.tok, _ = e.h.request(t, e.tok, func(s *core.Session) { s.SetUser("ann") })
			e.loss.arm(tc.op, core.StoreKey(e.tok), lossApplied, true)
			if _, err := e.login(e.tok); err == nil {
				t.Fatal("re-authentication with the store down after its renew: Commit succeeded, want an error")
			}
			if tc.ended {
				e.endDirectly(t, "ann")
			}
			e.loss.setDown(false)
			if !tc.ended {
				e.h.request(t, e.tok, func(s *core.Session) { s.Destroy() }) // the logout
			}
			deadline := time.Now().Add(5 * time.Second)
			for e.annSessions(t) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("5 s after the store came back ann still has %d sessions, want 0", e.annSessions(t))
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(1500 * time.Millisecond) // the settling retries every 100 ms to 1 s
			if cart, user := e.state(t, e.tok); cart != nil || user != "" {
				t.Errorf("after the logout or the ending the old token loads cart %v, user %q; want nothing", cart, user)
			}
		})
	}
}

// TestUndoSurvivesARetriedEnd: while a renew is undone in the background,
// the successor's ending takes effect, its reply is lost, and the store's
// client sends it again, which conflicts. The pre-login session put back
// must stay (it was ended too when such a conflict was taken for an
// EndUserSessions).
func TestUndoSurvivesARetriedEnd(t *testing.T) {
	for _, p := range settlePaths[:2] {
		t.Run(p.name, func(t *testing.T) {
			e := newSettleEnv(t, p.wrap)
			e.loss.arm(p.op, core.StoreKey(e.tok), lossApplied, true)
			e.wantLoginFails(t, "login with the store down after its renew")
			keys, err := e.mem.UserKeys(t.Context(), "ann")
			if err != nil || len(keys) != 1 {
				t.Fatalf("ann's keys in the store: %d, %v; want the successor's", len(keys), err)
			}
			e.loss.arm(core.OpCompareAndSwap, keys[0], lossRetried, false)
			e.loss.setDown(false)
			deadline := time.Now().Add(5 * time.Second)
			for e.annSessions(t) != 0 {
				if time.Now().After(deadline) {
					t.Fatal("5 s after the store came back the successor is still live")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if cart, user := e.state(t, e.tok); cart != 3 || user != "" {
				t.Errorf("the old token loads cart %v, user %q; want 3 and none", cart, user)
			}
		})
	}
}

// halfRenewer renews as a store that sends the two writes apart
// (memcached) and loses the second's answer: the old record is retired
// at once, the successor written only once release is closed, and the
// call reports a timeout.
type halfRenewer struct {
	*memory.Store
	release, done chan struct{}
	late          error // the successor's write, once done
}

func (h *halfRenewer) Renew(ctx context.Context, r core.Renewal) (uint64, error) {
	if _, err := h.Store.CompareAndSwap(ctx, r.OldKey, r.OldVersion, r.Retired, r.RetiredExpiry); err != nil {
		return 0, err
	}
	go func() {
		<-h.release
		_, h.late = h.Store.CompareAndSwap(context.Background(), r.NewKey, 0, r.Data, r.Expiry)
		close(h.done)
	}()
	return 0, errReplyLost
}

// TestLoginHalfDone: a renew by such a store has retired the old record
// and its successor's write is still on its way when the core settles:
// the core takes the successor's key first, so that the write fails when
// it lands, and puts the pre-login session back. Before, the old token
// stayed retired and the successor, written later, was held by nobody.
func TestLoginHalfDone(t *testing.T) {
	mem := memory.New(memory.Config{})
	t.Cleanup(func() { _ = mem.Close() })
	half := &halfRenewer{Store: mem, release: make(chan struct{}), done: make(chan struct{})}
	h := newHarness(t, core.Config{Store: half})
	tok, _ := h.request(t, "", func(s *core.Session) { s.Set("cart", 3) })
	s, hdr := h.begin(tok, "192.0.2.1:1234")
	s.Renew()
	if err := h.m.Commit(s, hdr); !errors.Is(err, errReplyLost) {
		t.Fatalf("login half done: Commit = %v, want the store's error", err)
	}
	h.m.Release(s)
	close(half.release)
	<-half.done
	if !errors.Is(half.late, core.ErrConflict) {
		t.Errorf("the successor's write, landing after the core settled: %v, want core.ErrConflict", half.late)
	}
	h.request(t, tok, func(s *core.Session) {
		if v, _ := s.Get("cart"); v != 3 {
			t.Errorf("the old token loads cart %v, want 3 (the pre-login session back)", v)
		}
	})
}
