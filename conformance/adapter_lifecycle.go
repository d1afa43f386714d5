package conformance

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sessionkit/sessionkit/core"
)

// adapterLifecycleChecks check persistence, renew and destroy.
var adapterLifecycleChecks = []adapterCheck{
	{name: "Persistence", run: adapterCheckPersistence},
	{name: "Renew", run: adapterCheckRenew},
	{name: "Destroy", run: adapterCheckDestroy},
	{name: "DestroyWithoutSession", run: adapterCheckDestroyNone},
}

func adapterCheckPersistence(e *adapterEnv) error {
	err := e.start(core.Config{}, func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		n, _ := core.Value[int](s, "n")
		s.Set("n", n+1)
		fmt.Fprint(w, n+1)
	})
	if err != nil {
		return err
	}
	tok := ""
	for i := 1; i <= 3; i++ {
		r, err := e.get("/count", tok)
		if err != nil {
			return err
		}
		if err := r.wantOK(fmt.Sprint(i), "a session persists across requests"); err != nil {
			return err
		}
		if i == 1 {
			if err := r.wantNewToken(e.validToken, "a new session that was written sends its token"); err != nil {
				return err
			}
			tok = r.token
		} else if r.sent && r.token != tok && !e.opts.ClientSide {
			return adapterViolation(r.call+" token", "a different token", "the same token or none", "a session keeps its token until Renew")
		}
		tok = r.follow(tok)
	}
	return nil
}

const ruleRenew = "Renew issues a new token, keeps the values, and the old token loads nothing afterwards"

func adapterCheckRenew(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	old, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	r, err := e.get("/renew", old)
	if err != nil {
		return err
	}
	if err := r.wantOK("ok", ruleRenew); err != nil {
		return err
	}
	if err := r.wantNewToken(e.validToken, ruleRenew, old); err != nil {
		return err
	}
	renewed, err := e.get("/get", r.token)
	if err != nil {
		return err
	}
	if err := renewed.wantOK("new=false a=1", ruleRenew); err != nil {
		return err
	}
	if e.opts.KeepsEndedTokens {
		return nil
	}
	if err := e.wantNoSessionData("the old token", old, ruleRenew); err != nil {
		return err
	}
	stale, err := e.get("/get", old)
	if err != nil {
		return err
	}
	if err := stale.wantOK("new=true", ruleRenew); err != nil {
		return err
	}
	return e.wantNoSessionData("the old token after a read", old, ruleRenew)
}

const ruleDestroy = "Destroy deletes the record and expires the cookie; the old token then loads a new session"

func adapterCheckDestroy(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
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
	switch {
	case !r.sent:
		return adapterViolation(r.call+" Set-Cookie", "none", "an expired session cookie", ruleDestroy)
	case r.cookie.MaxAge >= 0:
		return adapterViolation(r.call+" cookie Max-Age", fmt.Sprint(r.cookie.MaxAge), "<= 0 (expired)", ruleDestroy)
	case r.token != "":
		return adapterViolation(r.call+" cookie value", "a token", "empty", ruleDestroy)
	}
	return adapterEnded(e, tok)
}

// adapterEnded requires that the destroyed token tok loads nothing, unless
// the store declares KeepsEndedTokens.
func adapterEnded(e *adapterEnv, tok string) error {
	if e.opts.KeepsEndedTokens {
		return nil
	}
	if err := e.wantNoRecord("the destroyed token", tok, ruleDestroy); err != nil {
		return err
	}
	next, err := e.get("/get", tok)
	if err != nil {
		return err
	}
	return next.wantOK("new=true", ruleDestroy)
}

func adapterCheckDestroyNone(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	const rule = "logging out without a session sends no cookie and stores nothing"
	for _, q := range []struct{ path, body string }{{"/destroy", "ok"}, {"/destroy-quietly", ""}} {
		r, err := e.get(q.path, "")
		if err != nil {
			return err
		}
		if err := r.wantOK(q.body, rule); err != nil {
			return err
		}
		if err := r.wantNoToken(rule); err != nil {
			return err
		}
		if n := e.writes(); n != 0 {
			return adapterViolation("store writes for "+r.call, fmt.Sprint(n), "0", rule)
		}
	}
	return nil
}

const ruleFailure = "when the session cannot be loaded or saved, the error handler answers (5xx) and nothing of the handler's response leaks"

// adapterErrorChecks check store failures.
var adapterErrorChecks = []adapterCheck{
	{name: "LoadFailure", run: adapterCheckLoadFailure},
	{name: "CommitFailure", run: adapterCheckCommitFailure},
}

// adapterLeaky is a handler that uses the session, sets a header and writes
// a body that must not reach the client when the session fails.
func adapterLeaky(w http.ResponseWriter, r *http.Request, s *core.Session) {
	if r.URL.Path == "/set" {
		adapterDefault(w, r, s)
		return
	}
	_, _ = s.Get("a")
	s.Set("b", "2")
	w.Header().Set("X-Handler", "leaked")
	io.WriteString(w, "handler-body")
}

func adapterFailed(r *adapterResp) error {
	switch {
	case r.status < 500 || r.status > 599:
		return adapterViolation(r.call+" status", fmt.Sprint(r.status), "5xx", ruleFailure)
	case strings.Contains(r.body, "handler-body"):
		return adapterViolation(r.call+" body", fmt.Sprintf("%q", adapterShort(r.body)), "no part of the handler's body", ruleFailure)
	case r.header.Get("X-Handler") != "":
		return adapterViolation(r.call+" X-Handler header", fmt.Sprintf("%q", r.header.Get("X-Handler")), "none of the handler's headers", ruleFailure)
	case r.sent:
		return adapterViolation(r.call+" token sent", "yes", "none", ruleFailure)
	}
	return nil
}

func adapterCheckLoadFailure(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterLeaky); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	e.faulty.FailOp(OpLoad, nil)
	r, err := e.get("/use", tok)
	if err != nil {
		return err
	}
	return adapterFailed(r)
}

func adapterCheckCommitFailure(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterLeaky); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	e.faulty.FailOp(OpSave, nil)
	e.faulty.FailOp(OpCompareAndSwap, nil)
	for _, t := range []string{"", tok} {
		r, err := e.get("/use", t)
		if err != nil {
			return err
		}
		if err := adapterFailed(r); err != nil {
			return err
		}
	}
	return nil
}

// adapterTokenChecks check how presented tokens are treated.
var adapterTokenChecks = []adapterCheck{
	{name: "StrictUnknown", run: adapterCheckStrict},
	{name: "AdoptUnknown", serverRecord: true, run: adapterCheckAdopt},
	{name: "Malformed", run: adapterCheckMalformed},
}

const ruleStrict = "strict mode: a well-formed token the store does not know is never adopted"

func adapterCheckStrict(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	unknown, err := e.cfg().Tokens.New()
	if err != nil {
		return fmt.Errorf("conformance: Tokens.New: %w", err)
	}
	r, err := e.get("/set?a=1", unknown)
	if err != nil {
		return err
	}
	if err := r.wantOK("ok", ruleStrict); err != nil {
		return err
	}
	if err := r.wantNewToken(e.validToken, ruleStrict, unknown); err != nil {
		return err
	}
	if err := e.wantNoRecord("the unknown token", unknown, ruleStrict); err != nil {
		return err
	}
	next, err := e.get("/get", unknown)
	if err != nil {
		return err
	}
	return next.wantOK("new=true", ruleStrict)
}

const ruleAdopt = "with AdoptUnknownTokens a well-formed unknown token is adopted for the new session"

func adapterCheckAdopt(e *adapterEnv) error {
	if err := e.start(core.Config{AdoptUnknownTokens: true}, adapterDefault); err != nil {
		return err
	}
	chosen, err := e.cfg().Tokens.New()
	if err != nil {
		return fmt.Errorf("conformance: Tokens.New: %w", err)
	}
	r, err := e.get("/set?a=1", chosen)
	if err != nil {
		return err
	}
	if err := r.wantOK("ok", ruleAdopt); err != nil {
		return err
	}
	if r.sent && r.token != chosen {
		return adapterViolation(r.call+" token", "a different token", "the adopted token", ruleAdopt)
	}
	next, err := e.get("/get", chosen)
	if err != nil {
		return err
	}
	return next.wantOK("new=false a=1", ruleAdopt)
}

const ruleMalformed = "a malformed token is no session: a fresh session, 200, never an error or a panic"

// adapterMalformed returns the malformed Cookie header values to try.
func adapterMalformed(name string) []struct{ label, cookie string } {
	valid := strings.Repeat("A", 43)
	many := make([]string, 50)
	for i := range many {
		many[i] = fmt.Sprintf("%s=%s%02d", name, strings.Repeat("x", 41), i)
	}
	return []struct{ label, cookie string }{
		{"empty", name + "="},
		{"short", name + "=" + valid[:42]},
		{"long", name + "=" + valid + "A"},
		{"std base64 alphabet", name + "=" + valid[:41] + "+/"},
		{"padding", name + "=" + valid[:42] + "="},
		{"non-canonical last character", name + "=" + valid[:42] + "B"},
		{"quoted junk", name + `="` + strings.Repeat("q", 20) + `"`},
		{"10 kB of junk", name + "=" + strings.Repeat("junk", 2560)},
		{"unicode", name + "=" + strings.Repeat("ü", 21) + "x"},
		{"many cookies of the same name", strings.Join(many, "; ")},
		{"no value", name},
	}
}

func adapterCheckMalformed(e *adapterEnv) error {
	probe := func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		state := adapterState(s)
		s.Set("a", "1")
		io.WriteString(w, state)
	}
	if err := e.start(core.Config{}, probe); err != nil {
		return err
	}
	valid := e.validToken
	name := e.cfg().Cookie.Name
	for _, c := range adapterMalformed(name) {
		r, err := e.do(adapterReq{path: "/probe", prepare: func(r *http.Request) { r.Header.Set("Cookie", c.cookie) }})
		if err != nil {
			return fmt.Errorf("%s: %w", c.label, err)
		}
		r.call += " (" + c.label + ")"
		if err := adapterFresh(r, valid); err != nil {
			return err
		}
	}
	// A NUL byte cannot travel through a client: hand the request over directly.
	req := httptest.NewRequest(http.MethodGet, "/probe", nil)
	req.Header["Cookie"] = []string{name + "=" + strings.Repeat("A", 20) + "\x00" + strings.Repeat("A", 22)}
	r, err := e.serve("GET /probe (NUL byte)", req)
	if err != nil {
		return err
	}
	return adapterFresh(r, valid)
}

// adapterFresh requires a fresh session with a freshly issued token.
func adapterFresh(r *adapterResp, valid func(string) bool) error {
	if err := r.wantOK("new=true", ruleMalformed); err != nil {
		return err
	}
	return r.wantNewToken(valid, ruleMalformed)
}
