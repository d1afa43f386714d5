package conformance

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// adapterConcurrencyChecks check concurrent requests on one session.
var adapterConcurrencyChecks = []adapterCheck{
	{name: "DifferentKeys", cas: true, run: func(e *adapterEnv) error { return adapterConcurrentKeys(e, 0) }},
	{name: "DifferentKeysSlowStore", cas: true, run: func(e *adapterEnv) error { return adapterConcurrentKeys(e, 2*time.Millisecond) }},
	{name: "InFlightDuringDestroy", cas: true, run: func(e *adapterEnv) error { return adapterInFlight(e, "/destroy") }},
	{name: "InFlightDuringRenew", cas: true, run: func(e *adapterEnv) error { return adapterInFlight(e, "/renew") }},
}

const (
	adapterWriters = 16
	ruleNoLost     = "concurrent requests on one session that change different keys all survive (no lost updates)"
	ruleNoRevive   = "a request in flight during a logout or renew does not revive the old token"
)

// adapterBarrier lets n handlers wait until all of them have loaded the
// session, so that they all start from the same version. It gives up after
// adapterTimeout so that a serialising adapter fails instead of hanging.
type adapterBarrier struct {
	mu      sync.Mutex
	n       int
	release chan struct{}
}

func (b *adapterBarrier) wait() {
	b.mu.Lock()
	b.n--
	if b.n == 0 {
		close(b.release)
	}
	b.mu.Unlock()
	select {
	case <-b.release:
	case <-time.After(adapterTimeout / 4):
	}
}

// adapterConcurrentKeys sends adapterWriters concurrent requests on one
// session, each setting its own key, with latency added to every store call.
func adapterConcurrentKeys(e *adapterEnv, latency time.Duration) error {
	barrier := &adapterBarrier{n: adapterWriters, release: make(chan struct{})}
	err := e.start(core.Config{}, func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		if r.URL.Path != "/race" {
			adapterDefault(w, r, s)
			return
		}
		_, _ = s.Get("base") // load, then wait for the others to load the same version
		barrier.wait()
		s.Set(r.URL.Query().Get("k"), "v")
		io.WriteString(w, "ok")
	})
	if err != nil {
		return err
	}
	tok, err := e.newSession("base=1")
	if err != nil {
		return err
	}
	e.faulty.SetLatency(latency)
	errs := make(chan error, adapterWriters)
	for i := range adapterWriters {
		go func() {
			r, err := e.get(fmt.Sprintf("/race?k=k%02d", i), tok)
			if err == nil {
				err = r.wantOK("ok", ruleNoLost)
			}
			errs <- err
		}()
	}
	var all []error
	for range adapterWriters {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		return err
	}
	e.faulty.SetLatency(0)
	r, err := e.get("/get", tok)
	if err != nil {
		return err
	}
	want := []string{"new=false", "base=1"}
	for i := range adapterWriters {
		want = append(want, fmt.Sprintf("k%02d=v", i))
	}
	return r.wantOK(strings.Join(want, " "), ruleNoLost)
}

// adapterInFlight holds request A after it loaded the session, ends the
// session with request B to path (/destroy or /renew), then lets A change
// the session and commit: the old token must still load nothing.
func adapterInFlight(e *adapterEnv, path string) error {
	loaded := make(chan struct{})
	release := make(chan struct{})
	err := e.start(core.Config{}, func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		if r.URL.Path != "/slow" {
			adapterDefault(w, r, s)
			return
		}
		_, _ = s.Get("a")
		close(loaded)
		select {
		case <-release:
		case <-time.After(adapterTimeout / 2):
		}
		s.Set("b", "2")
		io.WriteString(w, "ok")
	})
	if err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.get("/slow", tok)
		done <- err
	}()
	select {
	case <-loaded:
	case err := <-done:
		return fmt.Errorf("conformance: the in-flight request ended early: %v", err)
	case <-time.After(adapterTimeout):
		return adapterViolation("GET /slow", "no handler call", "the handler to run", "the adapter calls the handler")
	}
	b, err := e.get(path, tok)
	close(release)
	if errA := <-done; errA != nil {
		return errA
	}
	if err != nil {
		return err
	}
	if err := b.wantOK("ok", ruleNoRevive); err != nil {
		return err
	}
	if err := e.wantNoSessionData("the old token", tok, ruleNoRevive); err != nil {
		return err
	}
	old, err := e.get("/get", tok)
	if err != nil {
		return err
	}
	if err := old.wantOK("new=true", ruleNoRevive); err != nil {
		return err
	}
	if path == "/renew" {
		if err := b.wantNewToken(e.validToken, ruleRenew, tok); err != nil {
			return err
		}
		renewed, err := e.get("/get", b.token)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(renewed.body, "new=false a=1") {
			return adapterViolation(renewed.call+" body", fmt.Sprintf("%q", renewed.body), `"new=false a=1..."`, ruleRenew)
		}
	}
	return nil
}
