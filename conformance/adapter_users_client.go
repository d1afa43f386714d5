package conformance

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

const (
	ruleClientUserEnd     = "for client-side sessions, EndUserSessions through a core.UserRevoker ends every session of the user but the one kept: its next request is a new, empty session (not an error), and no later request, later call or request in flight across the call brings it back; the kept session and other users' sessions stay"
	ruleClientUserNoList  = "for client-side sessions, UserSessions and EndSession return an error wrapping core.ErrNotSupported (nothing on the server knows the sessions), and so does EndUserSessions when the client store keeps no revocation list, ending nothing"
	adapterClientInFlight = 16 // requests of one device held open across EndUserSessions
)

// adapterClientUserHandler serves the routes of the client-side
// user-session check: /login?user=U (Renew, SetUser, a value; answers the
// public id), /whoami ("user=U" or "user=-", then the session's state as
// adapterState renders it), /set (as adapterDefault), /end-others
// (EndUserSessions keeping the current session; answers n) and /hold?i=N,
// which loads the session, reports to opened, waits for gate and then
// writes the session (Renew first when N is odd), answering the user it
// loaded.
func adapterClientUserHandler(e *adapterEnv, opened chan<- struct{}, gate <-chan struct{}) Handler {
	return func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		q := r.URL.Query()
		switch r.URL.Path {
		case "/login":
			s.Renew()
			s.SetUser(q.Get("user"))
			s.Set("in", "1")
			io.WriteString(w, s.ID())
		case "/whoami":
			u := s.User()
			if u == "" {
				u = "-"
			}
			io.WriteString(w, "user="+u+" "+adapterState(s))
		case "/end-others":
			n, err := e.m.EndUserSessions(r.Context(), s.User(), s.ID())
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprint(w, n)
		case "/hold":
			u := s.User()
			select {
			case opened <- struct{}{}:
			case <-r.Context().Done():
				return
			case <-time.After(adapterTimeout):
				http.Error(w, "more requests in /hold than the check sent", http.StatusInternalServerError)
				return
			}
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			case <-time.After(adapterTimeout):
				http.Error(w, "never released", http.StatusInternalServerError)
				return
			}
			i, _ := strconv.Atoi(q.Get("i"))
			if i%2 == 1 {
				s.Renew()
			}
			s.Set("n", strconv.Itoa(i))
			io.WriteString(w, u)
		default:
			adapterDefault(w, r, s)
		}
	}
}

// adapterCheckClientUserSessions checks a user's client-side sessions:
// three devices of one user and one of another log in; listing and ending
// by id are refused with core.ErrNotSupported; with a core.UserRevoker
// and a revocation list (not AdapterOptions.KeepsEndedTokens), ending the
// user's sessions but the first device's logs out the other two for good
// (every token they held before, twice, and after one of them logs in
// again), while requests of a device held in flight across a second call
// cannot revive it, and a third call that keeps an ended session does not
// bring it back. Without either, EndUserSessions must refuse with
// core.ErrNotSupported and end nothing.
func adapterCheckClientUserSessions(e *adapterEnv) error {
	opened := make(chan struct{}, adapterClientInFlight)
	gate := make(chan struct{})
	if err := e.start(core.Config{}, adapterClientUserHandler(e, opened, gate)); err != nil {
		return err
	}
	if e.client == nil {
		e.t.Skip("needs client-side sessions; the store declared ClientSide runs as a server-side Store")
	}
	ctx := e.t.Context()
	whoami := func(tok, want, rule string) error {
		r, err := e.get("/whoami", tok)
		if err != nil {
			return err
		}
		return r.wantOK(want, rule)
	}
	const (
		ann = "user=ann new=false in=1"
		bob = "user=bob new=false in=1"
		out = "user=- new=true"
	)
	login := func(user, tok string) (string, string, error) {
		r, err := e.get("/login?user="+user, tok)
		if err != nil {
			return "", "", err
		}
		if err := r.wantStatus(http.StatusOK, ruleClientUserEnd); err != nil {
			return "", "", err
		}
		if !r.sent || r.token == "" || r.body == "" {
			return "", "", adapterViolation(r.call, "no token or no id", "a logged-in session and its id", ruleClientUserEnd)
		}
		return r.token, r.body, nil
	}

	d1, id1, err := login("ann", "")
	if err != nil {
		return err
	}
	d2, id2, err := login("ann", "")
	if err != nil {
		return err
	}
	d3, _, err := login("ann", "")
	if err != nil {
		return err
	}
	d4, _, err := login("bob", "")
	if err != nil {
		return err
	}
	// Device 2 writes once more: both of its tokens must end.
	r, err := e.get("/set?n=1", d2)
	if err != nil {
		return err
	}
	if err := r.wantOK("ok", ruleClientUserEnd); err != nil {
		return err
	}
	d2b := r.follow(d2)

	if _, err := e.m.UserSessions(ctx, "ann"); !errors.Is(err, core.ErrNotSupported) {
		return adapterViolation(`Manager.UserSessions("ann")`, fmt.Sprintf("error %v", err), "an error wrapping core.ErrNotSupported", ruleClientUserNoList)
	}
	if _, err := e.m.EndSession(ctx, "ann", id2); !errors.Is(err, core.ErrNotSupported) {
		return adapterViolation(`Manager.EndSession("ann", id of device 2)`, fmt.Sprintf("error %v", err), "an error wrapping core.ErrNotSupported", ruleClientUserNoList)
	}
	if err := whoami(d2b, ann+" n=1", ruleClientUserNoList); err != nil {
		return err
	}

	if _, ok := e.client.(core.UserRevoker); !ok || e.opts.KeepsEndedTokens {
		n, err := e.m.EndUserSessions(ctx, "ann", id1)
		if !errors.Is(err, core.ErrNotSupported) {
			return adapterViolation(`Manager.EndUserSessions("ann", id of device 1) without a revocation list`, fmt.Sprintf("%d, error %v", n, err), "an error wrapping core.ErrNotSupported", ruleClientUserNoList)
		}
		for _, d := range []struct{ label, tok, want string }{
			{"device 1", d1, ann}, {"device 2", d2b, ann + " n=1"}, {"device 3", d3, ann}, {"bob's device", d4, bob},
		} {
			if err := whoami(d.tok, d.want, ruleClientUserNoList); err != nil {
				return fmt.Errorf("%s: %w", d.label, err)
			}
		}
		return nil
	}

	// endOthers calls EndUserSessions from device 1's request, keeping it.
	endOthers := func() error {
		r, err := e.get("/end-others", d1)
		if err != nil {
			return err
		}
		// n is 0: nothing counts client-side sessions.
		return r.wantOK("0", ruleClientUserEnd)
	}
	// check requires each token to answer want, twice over: an ended
	// session stays ended on the request after its first refusal.
	type dev struct{ label, tok, want string }
	check := func(step string, devs ...dev) error {
		for round := 1; round <= 2; round++ {
			for _, d := range devs {
				if err := whoami(d.tok, d.want, ruleClientUserEnd); err != nil {
					return fmt.Errorf("%s, %s, request %d: %w", step, d.label, round, err)
				}
			}
		}
		return nil
	}

	if err := endOthers(); err != nil {
		return err
	}
	if err := check("after EndUserSessions(ann, except device 1)",
		dev{"device 2", d2, out}, dev{"device 2 (its later token)", d2b, out}, dev{"device 3", d3, out},
		dev{"device 1 (kept)", d1, ann}, dev{"bob's device", d4, bob}); err != nil {
		return err
	}

	// Device 2 logs in again: a new session, filed after the call. Its
	// old tokens stay ended.
	d2n, id2n, err := login("ann", d2b)
	if err != nil {
		return err
	}
	if id2n == id2 {
		return adapterViolation("GET /login on an ended session: the public id", "the ended session's id", "a new session's id", ruleClientUserEnd)
	}
	if err := check("after device 2 logged in again",
		dev{"device 2 (new login)", d2n, ann}, dev{"device 2 (old token)", d2, out},
		dev{"device 2 (old later token)", d2b, out}, dev{"device 3", d3, out}); err != nil {
		return err
	}

	// Requests of device 2 in flight across a second call: each has
	// loaded the session before it and writes (half of them renewing)
	// after it. No token they send revives the session.
	var wg sync.WaitGroup
	resps := make([]*adapterResp, adapterClientInFlight)
	errs := make([]error, adapterClientInFlight)
	for i := range adapterClientInFlight {
		wg.Go(func() {
			resps[i], errs[i] = e.get(fmt.Sprintf("/hold?i=%d", i), d2n)
		})
	}
	for range adapterClientInFlight {
		select {
		case <-opened:
		case <-time.After(adapterTimeout):
			close(gate)
			wg.Wait()
			return adapterViolation(fmt.Sprintf("%d concurrent GET /hold of one session", adapterClientInFlight), "not all of them reached the handler", "all of them in the handler at once", ruleClientUserEnd)
		}
	}
	err = endOthers()
	close(gate)
	wg.Wait()
	if err != nil {
		return err
	}
	devs := []dev{{"device 2 (before the requests in flight)", d2n, out}}
	for i, r := range resps {
		if errs[i] != nil {
			return errs[i]
		}
		if err := r.wantOK("ann", ruleClientUserEnd); err != nil {
			return err
		}
		if r.sent && r.token != "" {
			devs = append(devs, dev{fmt.Sprintf("device 2 (token of request %d in flight)", i), r.token, out})
		}
	}
	devs = append(devs, dev{"device 1 (kept)", d1, ann}, dev{"bob's device", d4, bob})
	if err := check("after EndUserSessions(ann, except device 1) with requests of device 2 in flight", devs...); err != nil {
		return err
	}

	// A later call that keeps device 2's first session (its own "log out
	// everywhere else", arriving late) adds to the earlier ones: it does
	// not bring that session back, and ends device 1.
	if n, err := e.m.EndUserSessions(ctx, "ann", id2); err != nil || n != 0 {
		return adapterViolation(`Manager.EndUserSessions("ann", id of device 2's ended session)`, fmt.Sprintf("%d, error %v", n, err), "0, no error", ruleClientUserEnd)
	}
	return check("after a later EndUserSessions(ann, except device 2's ended session)",
		dev{"device 2 (old token)", d2, out}, dev{"device 2 (old later token)", d2b, out},
		dev{"device 1 (not kept this time)", d1, out}, dev{"bob's device", d4, bob})
}
