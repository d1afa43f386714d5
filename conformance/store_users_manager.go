package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// Rules of a user's sessions, checked through a core.Manager on the store.
const (
	ruleUserEndForGood = "EndSession and EndUserSessions end sessions as Destroy does: once they return, no request of an ended session, however concurrent and renews included, brings it back or keeps it listed, and other sessions live on"
	ruleUserNoGhosts   = "a session that expired is no longer listed by UserSessions, nor counted by EndUserSessions"
)

// userHarness drives requests of a core.Manager on the store under test
// without a server.
type userHarness struct {
	m *core.Manager
}

func newUserHarness(s core.Store, cfg core.Config) (*userHarness, error) {
	cfg.Store = s
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := core.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("conformance: core.New: %w", err)
	}
	return &userHarness{m: m}, nil
}

// request runs fn as the handler of a request carrying token ("" none)
// and returns the token the client holds afterwards ("" none).
func (h *userHarness) request(token string, fn func(s *core.Session)) (string, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		r.AddCookie(&http.Cookie{Name: core.DefaultCookieName, Value: token})
	}
	s := h.m.Begin(r)
	fn(s)
	hdr := http.Header{}
	err := h.m.Commit(s, hdr)
	h.m.Release(s)
	if err != nil {
		return token, err
	}
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == core.DefaultCookieName {
			if c.MaxAge < 0 {
				return "", nil
			}
			return c.Value, nil
		}
	}
	return token, nil
}

// login starts a session of user and returns its token and public id.
func (h *userHarness) login(user string) (token, id string, err error) {
	token, err = h.request("", func(s *core.Session) {
		s.SetUser(user)
		s.Set("n", 0)
		id = s.ID()
	})
	if err == nil && token == "" {
		err = storeViolation(fmt.Sprintf("login of %q", user), "no token", "a session", ruleUserFile)
	}
	return token, id, err
}

// ids lists the public ids of user's sessions, sorted.
func (h *userHarness) ids(ctx context.Context, user string) ([]string, error) {
	list, err := h.m.UserSessions(ctx, user)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, si := range list {
		ids = append(ids, si.ID)
	}
	slices.Sort(ids)
	return ids, nil
}

func storeCheckUserEndUnderLoad(ctx context.Context, s core.Store, _ StoreOptions) error {
	h, err := newUserHarness(s, core.Config{})
	if err != nil {
		return err
	}
	const sessions, workers = 4, 16
	var (
		mu     sync.Mutex
		tokens [sessions]string
		ids    [sessions]string
	)
	for i := range sessions {
		if tokens[i], ids[i], err = h.login("ann"); err != nil {
			return err
		}
	}
	// Two more sessions of ann have no workers: one request of each is
	// certainly in flight across the ending (loaded before it, committed
	// after it), however the machine schedules the workers.
	const heldN = 2
	var heldTokens [heldN]string
	for i := range heldN {
		if heldTokens[i], _, err = h.login("ann"); err != nil {
			return err
		}
	}
	bobTok, bobID, err := h.login("bob")
	if err != nil {
		return err
	}
	if got, err := h.ids(ctx, "ann"); err != nil || len(got) != sessions+heldN {
		return storeViolation(`UserSessions("ann") after 6 logins`, fmt.Sprintf("%d sessions, %s", len(got), storeErrText(err)), "6 sessions", ruleUserFile)
	}
	loaded, release := make(chan struct{}, heldN), make(chan struct{})
	heldErrs := make([]error, heldN)
	var held sync.WaitGroup
	for i, tok := range heldTokens {
		held.Go(func() {
			_, err := h.request(tok, func(s *core.Session) {
				n, _ := core.Value[int](s, "n")
				loaded <- struct{}{}
				<-release
				s.Set("n", n+1)
			})
			if err != nil {
				heldErrs[i] = storeViolation("a request of one of ann's sessions held across the ending", storeErrText(err), "nil error", ruleUserEndForGood)
			}
		})
	}
	for range heldN {
		<-loaded
	}

	// Workers keep writing (and now and then renewing) the sessions while
	// they are ended; each session's current token is shared by its workers.
	stop := make(chan struct{})
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			i := w % sessions
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				tok := tokens[i]
				mu.Unlock()
				next, err := h.request(tok, func(s *core.Session) {
					n, _ := core.Value[int](s, "n")
					// A handler takes a while: requests are in flight
					// (loaded, not yet committed) when the session ends.
					time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
					s.Set("n", n+1)
					if r.IntN(8) == 0 {
						s.Renew()
					}
				})
				if err != nil {
					errs[w] = storeViolation("a request of one of ann's sessions", storeErrText(err), "nil error", ruleUserEndForGood)
					return
				}
				if next != "" && next != tok {
					mu.Lock()
					if tokens[i] == tok {
						tokens[i] = next
					}
					mu.Unlock()
				}
			}
		})
	}
	pause := func() { time.Sleep(100 * time.Millisecond) }
	pause()
	ended, endErr := h.m.EndSession(ctx, "ann", ids[1])
	pause()
	n, endAllErr := h.m.EndUserSessions(ctx, "ann", ids[0])
	close(release)
	held.Wait()
	pause()
	close(stop)
	wg.Wait()
	if err := errors.Join(append(errs, heldErrs...)...); err != nil {
		return err
	}
	switch {
	case endErr != nil || !ended:
		return storeViolation("EndSession(ann, a live session's id) under load", fmt.Sprintf("%t, %s", ended, storeErrText(endErr)), "true, nil error", ruleUserEndForGood)
	case endAllErr != nil || n != sessions-2+heldN:
		return storeViolation("EndUserSessions(ann, except the first) under load", fmt.Sprintf("%d, %s", n, storeErrText(endAllErr)), fmt.Sprintf("%d, nil error", sessions-2+heldN), ruleUserEndForGood)
	}
	got, err := h.ids(ctx, "ann")
	if err != nil || !slices.Equal(got, ids[:1]) {
		return storeViolation(`UserSessions("ann") after ending all but the first under load`, fmt.Sprintf("%d sessions (first kept: %t), %s", len(got), slices.Contains(got, ids[0]), storeErrText(err)), "the first session only", ruleUserEndForGood)
	}
	if got, err := h.ids(ctx, "bob"); err != nil || !slices.Equal(got, []string{bobID}) {
		return storeViolation(`UserSessions("bob")`, fmt.Sprintf("%d sessions, %s", len(got), storeErrText(err)), "bob's one session, untouched", ruleUserEndForGood)
	}
	// Whatever token each session's clients hold now opens no ended
	// session: an ended one loads as new (or as an anonymous session a
	// later request started).
	for _, tok := range heldTokens {
		var user string
		if _, err := h.request(tok, func(s *core.Session) { user = s.User() }); err != nil {
			return storeViolation("a request after the ending", storeErrText(err), "nil error", ruleUserEndForGood)
		}
		if user != "" {
			return storeViolation("a request with the token of an ended session whose request was in flight across the ending", fmt.Sprintf("a session of %q", user), "a new session", ruleUserEndForGood)
		}
	}
	for i, tok := range append(tokens[:], bobTok) {
		var user, id string
		if _, err := h.request(tok, func(s *core.Session) { user, id = s.User(), s.ID() }); err != nil {
			return storeViolation("a request after the ending", storeErrText(err), "nil error", ruleUserEndForGood)
		}
		live := i == 0 || i == sessions
		if !live && user != "" {
			return storeViolation(fmt.Sprintf("a request with the last token of ended session %d", i), fmt.Sprintf("a session of %q (kept: %t)", user, id == ids[0]), "a new session", ruleUserEndForGood)
		}
		if live && (user == "" || (i == 0 && id != ids[0])) {
			return storeViolation(fmt.Sprintf("a request with the last token of kept session %d", i), fmt.Sprintf("user %q", user), "the kept session", ruleUserEndForGood)
		}
	}
	return nil
}

func storeCheckUserNoGhosts(ctx context.Context, s core.Store, opts StoreOptions) error {
	idle := storeLead(ctx, opts) + 500*time.Millisecond
	start := time.Now()
	h, err := newUserHarness(s, core.Config{IdleTimeout: idle})
	if err != nil {
		return err
	}
	for range 3 {
		if _, _, err := h.login("ann"); err != nil {
			return err
		}
	}
	if got, err := h.ids(ctx, "ann"); err != nil || len(got) != 3 {
		return storeLate(storeViolation(`UserSessions("ann") after 3 logins`, fmt.Sprintf("%d sessions, %s", len(got), storeErrText(err)), "3 sessions", ruleUserFile), start.Add(idle), opts)
	}
	if err := storeSleepUntil(ctx, time.Now().Add(idle+opts.ExpiryPrecision+100*time.Millisecond)); err != nil {
		return err
	}
	if got, err := h.ids(ctx, "ann"); err != nil || len(got) != 0 {
		return storeViolation(`UserSessions("ann") after ann's sessions expired`, fmt.Sprintf("%d sessions, %s", len(got), storeErrText(err)), "none", ruleUserNoGhosts)
	}
	if n, err := h.m.EndUserSessions(ctx, "ann", ""); err != nil || n != 0 {
		return storeViolation(`EndUserSessions("ann") after ann's sessions expired`, fmt.Sprintf("%d, %s", n, storeErrText(err)), "0, nil error", ruleUserNoGhosts)
	}
	return nil
}
