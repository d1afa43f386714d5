package conformance

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// adapterTokenHeader is the header the header-transport checks use.
const adapterTokenHeader = "X-Session-Token"

const ruleHeaderTransport = "with Config.Header the token travels in that header both ways, never in a cookie"

// adapterTransportChecks check the header transport for API clients.
var adapterTransportChecks = []adapterCheck{
	{name: "RoundTrip", run: adapterCheckHeaderRoundTrip},
	{name: "Destroy", run: adapterCheckHeaderDestroy},
	{name: "Duplicate", run: adapterCheckHeaderDuplicate},
}

// adapterNoCookie requires a response without Set-Cookie and with Vary
// naming the token header.
func adapterNoCookie(r *adapterResp) error {
	if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
		return adapterViolation(r.call+" Set-Cookie", fmt.Sprintf("%d lines", len(sc)), "none", ruleHeaderTransport)
	}
	if !adapterHas(r.header, "Vary", adapterTokenHeader) {
		return adapterViolation(r.call+" Vary", fmt.Sprintf("%q", r.header.Values("Vary")), fmt.Sprintf("a list with %q", adapterTokenHeader), ruleVary)
	}
	return nil
}

func adapterCheckHeaderRoundTrip(e *adapterEnv) error {
	if err := e.start(core.Config{Header: adapterTokenHeader}, adapterDefault); err != nil {
		return err
	}
	r, err := e.get("/set?a=1", "")
	if err != nil {
		return err
	}
	if err := r.wantOK("ok", ruleHeaderTransport); err != nil {
		return err
	}
	if err := r.wantNewToken(e.validToken, ruleHeaderTransport); err != nil {
		return err
	}
	if err := adapterNoCookie(r); err != nil {
		return err
	}
	next, err := e.get("/get", r.token)
	if err != nil {
		return err
	}
	if err := next.wantOK("new=false a=1", ruleHeaderTransport); err != nil {
		return err
	}
	if err := next.wantNoToken(ruleUnchanged); err != nil {
		return err
	}
	return adapterNoCookie(next)
}

func adapterCheckHeaderDestroy(e *adapterEnv) error {
	if err := e.start(core.Config{Header: adapterTokenHeader}, adapterDefault); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	r, err := e.get("/destroy", tok)
	if err != nil {
		return err
	}
	if err := r.wantOK("ok", ruleDestroy); err != nil {
		return err
	}
	if !r.sent || r.token != "" {
		got := "no header"
		if r.sent {
			got = "a token"
		}
		return adapterViolation(r.call+" "+adapterTokenHeader, got, "an empty value", "destroy returns an empty token header")
	}
	if err := adapterNoCookie(r); err != nil {
		return err
	}
	return adapterEnded(e, tok)
}

func adapterCheckHeaderDuplicate(e *adapterEnv) error {
	if err := e.start(core.Config{Header: adapterTokenHeader}, adapterDefault); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	r, err := e.do(adapterReq{path: "/get", prepare: func(r *http.Request) {
		r.Header.Add(adapterTokenHeader, tok)
		r.Header.Add(adapterTokenHeader, tok)
	}})
	if err != nil {
		return err
	}
	r.call += " with the token header sent twice"
	return r.wantOK("new=true", "an ambiguous token (the header sent twice) is no session")
}

// adapterLateChecks check changes made after the body was written.
var adapterLateChecks = []adapterCheck{
	{name: "ExistingSession", serverRecord: true, run: adapterCheckLateExisting},
	{name: "NewSession", run: adapterCheckLateNew},
}

// adapterLate writes and flushes the body, then sets late=1.
func adapterLate(w http.ResponseWriter, r *http.Request, s *core.Session) {
	if r.URL.Path != "/late" {
		adapterDefault(w, r, s)
		return
	}
	io.WriteString(w, "body first")
	_ = http.NewResponseController(w).Flush()
	s.Set("late", "1")
}

func adapterCheckLateExisting(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterLate); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	r, err := e.get("/late", tok)
	if err != nil {
		return err
	}
	if err := r.wantOK("body first", "the handler's response passes through"); err != nil {
		return err
	}
	next, err := e.get("/get", tok)
	if err != nil {
		return err
	}
	return next.wantOK("new=false a=1 late=1", "a change made after the body was written is saved when the token did not change")
}

func adapterCheckLateNew(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterLate); err != nil {
		return err
	}
	r, err := e.get("/late", "")
	if err != nil {
		return err
	}
	const rule = "a new session created after the header left cannot reach the client: it is not stored, and an error is logged"
	if err := r.wantOK("body first", rule); err != nil {
		return err
	}
	if err := r.wantNoToken(rule); err != nil {
		return err
	}
	if n := e.writes(); n != 0 {
		return adapterViolation("store writes for "+r.call, fmt.Sprint(n), "0", rule)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "level=ERROR") {
		return adapterViolation("Manager log for "+r.call, fmt.Sprintf("%q", adapterShort(logs)), "an ERROR line", rule)
	}
	return nil
}

// adapterFeatureChecks check manual save, flashes, hijacking and a user's
// sessions (server-side and client-side).
var adapterFeatureChecks = []adapterCheck{
	{name: "ManualSave", run: adapterCheckManualSave},
	{name: "Flash", run: adapterCheckFlash},
	{name: "Hijack", run: adapterCheckHijack},
	{name: "HijackSavesChanges", serverRecord: true, run: adapterCheckHijackSaves},
	{name: "UserSessions", cas: true, lists: true, run: adapterCheckUserSessions},
	{name: "ClientUserSessions", clientOnly: true, run: adapterCheckClientUserSessions},
}

const ruleManual = "with ManualSave changes are stored only when the handler calls Save"

func adapterCheckManualSave(e *adapterEnv) error {
	err := e.start(core.Config{ManualSave: true}, func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		if r.URL.Path == "/save" {
			for k, v := range r.URL.Query() {
				s.Set(k, v[0])
			}
			s.Save()
			io.WriteString(w, "ok")
			return
		}
		adapterDefault(w, r, s)
	})
	if err != nil {
		return err
	}
	unsaved, err := e.get("/set?a=1", "")
	if err != nil {
		return err
	}
	if err := unsaved.wantNoToken(ruleManual); err != nil {
		return err
	}
	if n := e.writes(); n != 0 {
		return adapterViolation("store writes for "+unsaved.call, fmt.Sprint(n), "0", ruleManual)
	}
	saved, err := e.get("/save?a=1", "")
	if err != nil {
		return err
	}
	if err := saved.wantNewToken(e.validToken, ruleManual); err != nil {
		return err
	}
	tok := saved.token
	if _, err := e.get("/set?b=2", tok); err != nil {
		return err
	}
	r, err := e.get("/get", tok)
	if err != nil {
		return err
	}
	if err := r.wantOK("new=false a=1", ruleManual); err != nil {
		return err
	}
	saved, err = e.get("/save?b=3", tok)
	if err != nil {
		return err
	}
	r, err = e.get("/get", saved.follow(tok))
	if err != nil {
		return err
	}
	return r.wantOK("new=false a=1 b=3", ruleManual)
}

func adapterCheckFlash(e *adapterEnv) error {
	err := e.start(core.Config{}, func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		switch r.URL.Path {
		case "/add":
			s.AddFlash("saved")
			s.AddFlash("again")
			io.WriteString(w, "ok")
		case "/show":
			fmt.Fprintf(w, "%q", s.Flashes())
		default:
			adapterDefault(w, r, s)
		}
	})
	if err != nil {
		return err
	}
	add, err := e.get("/add", "")
	if err != nil {
		return err
	}
	const rule = "flash messages are returned once, on the next request, and then gone"
	if err := add.wantNewToken(e.validToken, rule); err != nil {
		return err
	}
	tok := add.token
	for _, want := range []string{`["saved" "again"]`, `[]`} {
		r, err := e.get("/show", tok)
		if err != nil {
			return err
		}
		if err := r.wantOK(want, rule); err != nil {
			return err
		}
		tok = r.follow(tok)
	}
	return nil
}

const ruleHijack = "a handler that hijacks the connection gets it and the adapter does not interfere or panic"

// adapterHijacker hijacks the connection and writes a raw response, after
// setting h=1 on the session when path is /hijack-set.
func adapterHijacker(w http.ResponseWriter, r *http.Request, s *core.Session) {
	switch r.URL.Path {
	case "/hijack-set":
		s.Set("h", "1")
	case "/hijack":
	default:
		adapterDefault(w, r, s)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "hijack: "+err.Error(), http.StatusNotImplemented)
		return
	}
	defer conn.Close()
	rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
	rw.Flush()
}

func adapterCheckHijack(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterHijacker); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	for _, t := range []string{"", tok} {
		r, err := e.get("/hijack", t)
		if err != nil {
			return err
		}
		if err := r.wantOK("hijacked", ruleHijack); err != nil {
			return err
		}
	}
	if log := e.errlog.String(); strings.Contains(log, "panic") {
		return adapterViolation("server error log", fmt.Sprintf("%q", adapterShort(log)), "no panic", ruleHijack)
	}
	return nil
}

func adapterCheckHijackSaves(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterHijacker); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	r, err := e.get("/hijack-set", tok)
	if err != nil {
		return err
	}
	if err := r.wantOK("hijacked", ruleHijack); err != nil {
		return err
	}
	if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
		return adapterViolation(r.call+" Set-Cookie", fmt.Sprintf("%q", sc), "none: the handler wrote the hijacked response itself", ruleHijack)
	}
	// The client has the hijacked response before the handler returns and
	// the adapter commits, so poll for the saved change.
	const rule = "changes to an existing session made before a hijack are saved after the handler returns"
	deadline := time.Now().Add(adapterTimeout / 4)
	for {
		next, err := e.get("/get", tok)
		if err != nil {
			return err
		}
		err = next.wantOK("new=false a=1 h=1", rule)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}
