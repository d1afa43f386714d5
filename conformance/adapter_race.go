package conformance

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// adapterRaceChecks check the promises that hold under contention:
// commits that never run out of retries, flash messages shown exactly
// once, and a login that concurrent requests cannot undo.
var adapterRaceChecks = []adapterCheck{
	{name: "Contention", cas: true, run: adapterCheckContention},
	{name: "FlashExactlyOnce", cas: true, run: adapterCheckFlashOnce},
	{name: "RenewGrace", endsTokens: true, run: adapterCheckRenewGrace},
}

const (
	ruleFlashOnce       = "concurrent AddFlash calls keep every message, and each message is shown by exactly one request"
	ruleRenewGrace      = "a request presenting the token a login retired moments ago gets no cookie, sees nothing of the new session, and its changes are dropped"
	ruleRenewGraceAfter = "after the grace window (Config.RenewGrace) a token retired by a login is simply unknown: a change starts a new session with a new cookie"
)

// adapterCheckContention sends many concurrent clients, each committing
// distinct keys to one session back to back, and requires every request
// to succeed and every key to survive: a commit never runs out of retries.
func adapterCheckContention(e *adapterEnv) error {
	writers, keys := 32, 8
	if testing.Short() {
		writers, keys = 16, 4
	}
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	tok, err := e.newSession("base=1")
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for k := range keys {
				r, err := e.get(fmt.Sprintf("/set?%s=v", contentionKey(w, k)), tok)
				if err == nil {
					err = r.wantOK("ok", ruleContention)
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r, err := e.get("/get", tok)
	if err != nil {
		return err
	}
	var missing []string
	for w := range writers {
		for k := range keys {
			if !strings.Contains(r.body, " "+contentionKey(w, k)+"=v") {
				missing = append(missing, contentionKey(w, k))
			}
		}
	}
	if len(missing) != 0 {
		return adapterViolation(fmt.Sprintf("GET /get after %d clients x %d keys", writers, keys),
			fmt.Sprintf("%d keys missing (%s...)", len(missing), missing[0]), "every key", ruleContention)
	}
	return nil
}

// adapterCheckFlashOnce adds flash messages from concurrent requests that
// all loaded the same version, then shows one queued message to
// concurrent requests that all loaded it.
func adapterCheckFlashOnce(e *adapterEnv) error {
	const adders, readers = 16, 8
	var mu sync.Mutex
	var barrier *adapterBarrier
	err := e.start(core.Config{}, func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		switch r.URL.Path {
		case "/flash-add":
			s.IsNew()
			mu.Lock()
			b := barrier
			mu.Unlock()
			if b != nil {
				b.wait()
			}
			s.AddFlash(r.URL.Query().Get("m"))
			io.WriteString(w, "ok")
		case "/flash-show":
			s.IsNew()
			mu.Lock()
			b := barrier
			mu.Unlock()
			if b != nil {
				b.wait()
			}
			io.WriteString(w, strings.Join(s.Flashes(), ","))
		default:
			adapterDefault(w, r, s)
		}
	})
	if err != nil {
		return err
	}
	tok, err := e.newSession("user=ann")
	if err != nil {
		return err
	}
	concurrent := func(n int, path func(i int) string) ([]*adapterResp, error) {
		mu.Lock()
		barrier = &adapterBarrier{n: n, release: make(chan struct{})}
		mu.Unlock()
		defer func() {
			mu.Lock()
			barrier = nil
			mu.Unlock()
		}()
		out := make([]*adapterResp, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				out[i], errs[i] = e.get(path(i), tok)
				if errs[i] == nil {
					errs[i] = out[i].wantStatus(http.StatusOK, ruleFlashOnce)
				}
			})
		}
		wg.Wait()
		return out, errors.Join(errs...)
	}
	if _, err := concurrent(adders, func(i int) string { return fmt.Sprintf("/flash-add?m=m%02d", i) }); err != nil {
		return err
	}
	r, err := e.get("/flash-show", tok)
	if err != nil {
		return err
	}
	var want []string
	for i := range adders {
		want = append(want, fmt.Sprintf("m%02d", i))
	}
	got := strings.Split(r.body, ",")
	if r.body == "" {
		got = nil
	}
	if len(got) != adders || !sameSet(got, want) {
		return adapterViolation(fmt.Sprintf("Flashes() after %d concurrent AddFlash", adders), fmt.Sprintf("%d messages %q", len(got), adapterShort(r.body)),
			fmt.Sprintf("all %d", adders), ruleFlashOnce)
	}
	if r, err := e.get("/flash-add?m=once", tok); err != nil {
		return err
	} else if err := r.wantOK("ok", ruleFlashOnce); err != nil {
		return err
	}
	shows, err := concurrent(readers, func(int) string { return "/flash-show" })
	if err != nil {
		return err
	}
	shown := 0
	for _, r := range shows {
		if r.body == "once" {
			shown++
		}
	}
	if shown != 1 {
		return adapterViolation(fmt.Sprintf("Flashes() in %d concurrent requests on one queued message", readers),
			fmt.Sprintf("shown %d times", shown), "shown once", ruleFlashOnce)
	}
	return nil
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	seen := make(map[string]int, len(a))
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

// adapterCheckRenewGrace logs in (renews), then sends a request with the
// pre-login token, as a browser does that fired it in parallel with the
// login POST and gets its answer after the login's; after the grace
// window the token must be simply unknown. It runs for client-side
// sessions too, unless the store declares KeepsEndedTokens: a client-side
// store passes it by implementing core.RetiringClientStore.
func adapterCheckRenewGrace(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	old, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	login, err := e.do(adapterReq{method: http.MethodPost, path: "/renew", token: old})
	if err != nil {
		return err
	}
	if err := login.wantNewToken(e.validToken, ruleRenew, old); err != nil {
		return err
	}
	late, err := e.do(adapterReq{method: http.MethodPost, path: "/set?x=1", token: old})
	if err != nil {
		return err
	}
	if err := late.wantOK("ok", ruleRenewGrace); err != nil {
		return err
	}
	if err := late.wantNoToken(ruleRenewGrace); err != nil {
		return err
	}
	if r, err := e.get("/get", login.token); err != nil {
		return err
	} else if err := r.wantOK("new=false a=1", ruleRenewGrace); err != nil {
		return err
	}
	if r, err := e.get("/get", old); err != nil {
		return err
	} else if err := r.wantOK("new=true", ruleRenewGrace); err != nil {
		return err
	}
	if err := e.wantNoSessionData("the retired token", old, ruleRenewGrace); err != nil {
		return err
	}
	e.clock.Advance(e.cfg().RenewGrace + time.Second)
	after, err := e.do(adapterReq{method: http.MethodPost, path: "/set?y=1", token: old})
	if err != nil {
		return err
	}
	if err := after.wantOK("ok", ruleRenewGraceAfter); err != nil {
		return err
	}
	if err := after.wantNewToken(e.validToken, ruleRenewGraceAfter, old); err != nil {
		return err
	}
	if r, err := e.get("/get", after.token); err != nil {
		return err
	} else if err := r.wantOK("new=false y=1", ruleRenewGraceAfter); err != nil {
		return err
	}
	return nil
}

// wantNoSessionData requires that the store holds nothing of a session
// under token: no record, or only a record of the core's metadata (the
// marker of a token retired by Renew).
func (e *adapterEnv) wantNoSessionData(label, token, rule string) error {
	if e.opts.ClientSide || e.inner == nil {
		return nil
	}
	rec, found, err := e.inner.Load(e.t.Context(), core.StoreKey(token))
	if err != nil {
		return fmt.Errorf("conformance: inspecting the store: %w", err)
	}
	if !found {
		return nil
	}
	_, values, err := e.cfg().Codec.Decode(rec.Data)
	if err != nil {
		return adapterViolation(fmt.Sprintf("decoding the store's record of %s", label), fmt.Sprintf("error %q", err), "a record the core wrote", rule)
	}
	for k := range values {
		if !core.ReservedKey(k) {
			return adapterViolation(fmt.Sprintf("store Load(key of %s)", label), fmt.Sprintf("a record holding key %q", k), "no session data", rule)
		}
	}
	return nil
}
