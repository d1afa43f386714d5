package conformance

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"

	"github.com/sessionkit/sessionkit/core"
)

const ruleHeaderPath = "the session is committed just before the response header leaves, on every way it can leave"

// adapterCommitChecks check that every way the header can leave carries
// the cookie of a new session.
var adapterCommitChecks = []adapterCheck{
	{name: "WriteHeader", run: adapterPath(http.StatusCreated, func(w http.ResponseWriter) error {
		w.WriteHeader(http.StatusCreated)
		return nil
	})},
	{name: "Write", run: adapterPath(http.StatusOK, func(w http.ResponseWriter) error {
		_, err := io.WriteString(w, "written")
		return err
	})},
	{name: "ReadFrom", run: adapterPath(http.StatusOK, func(w http.ResponseWriter) error {
		// A plain Reader: io.Copy then uses w's ReadFrom when it has one.
		_, err := io.Copy(w, struct{ io.Reader }{strings.NewReader("copied")})
		return err
	})},
	{name: "Flush", run: adapterPath(http.StatusOK, func(w http.ResponseWriter) error {
		f, ok := w.(http.Flusher)
		if !ok {
			return errors.New("the ResponseWriter does not implement http.Flusher")
		}
		f.Flush()
		_, err := io.WriteString(w, "after flush")
		return err
	})},
	{name: "ResponseControllerFlush", run: adapterPath(http.StatusOK, func(w http.ResponseWriter) error {
		if err := http.NewResponseController(w).Flush(); err != nil {
			return err
		}
		_, err := io.WriteString(w, "after flush")
		return err
	})},
	{name: "NoWrite", run: adapterPath(http.StatusOK, func(http.ResponseWriter) error { return nil })},
	{name: "EarlyHints", run: adapterCheckEarlyHints},
}

// adapterPath returns a check whose handler sets a value on a new session
// and then lets the header leave through send; the response must have
// status code and carry the cookie, and the value must persist.
func adapterPath(code int, send func(w http.ResponseWriter) error) func(e *adapterEnv) error {
	return func(e *adapterEnv) error {
		var mu sync.Mutex
		var sendErr error
		err := e.start(core.Config{}, func(w http.ResponseWriter, r *http.Request, s *core.Session) {
			if r.URL.Path != "/send" {
				adapterDefault(w, r, s)
				return
			}
			s.Set("a", "1")
			if err := send(w); err != nil {
				mu.Lock()
				sendErr = err
				mu.Unlock()
			}
		})
		if err != nil {
			return err
		}
		r, err := e.get("/send", "")
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if sendErr != nil {
			return adapterViolation("handler's write through the adapter's ResponseWriter", fmt.Sprintf("error %q", sendErr), "nil error", ruleHeaderPath)
		}
		return adapterPathResult(e, r, code)
	}
}

// adapterPathResult checks the response of a header-path handler.
func adapterPathResult(e *adapterEnv, r *adapterResp, code int) error {
	if err := r.wantStatus(code, ruleHeaderPath); err != nil {
		return err
	}
	if err := r.wantNewToken(e.validToken, ruleHeaderPath); err != nil {
		return err
	}
	if !adapterHas(r.header, "Vary", "Cookie") {
		return adapterViolation(r.call+" Vary", fmt.Sprintf("%q", r.header.Values("Vary")), `a list with "Cookie"`, ruleVary)
	}
	next, err := e.get("/get", r.token)
	if err != nil {
		return err
	}
	return next.wantOK("new=false a=1", "a value set before the header left is saved under the token sent")
}

// adapterCheckEarlyHints sends 103 Early Hints before the final response:
// the 1xx must not commit, the final response carries the cookie.
func adapterCheckEarlyHints(e *adapterEnv) error {
	err := e.start(core.Config{}, func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		if r.URL.Path != "/send" {
			adapterDefault(w, r, s)
			return
		}
		s.Set("a", "1")
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "final")
	})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var early []textproto.MIMEHeader
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		if code == http.StatusEarlyHints {
			early = append(early, h)
		}
		return nil
	}}
	ctx := httptrace.WithClientTrace(e.t.Context(), trace)
	r, err := e.do(adapterReq{path: "/send", ctx: ctx})
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range early {
		if len(h.Values("Set-Cookie")) != 0 {
			return adapterViolation("103 Early Hints Set-Cookie", fmt.Sprintf("%d lines", len(h.Values("Set-Cookie"))), "none",
				"an informational 1xx response does not commit the session")
		}
	}
	return adapterPathResult(e, r, http.StatusOK)
}

const ruleUnchanged = "no Set-Cookie and no store write when the session did not change"

// adapterUnchangedChecks check that nothing is sent or stored when nothing changed.
var adapterUnchangedChecks = []adapterCheck{
	{name: "ReadOnly", run: adapterCheckReadOnly},
	{name: "Untouched", run: adapterCheckUntouched},
	{name: "AnonymousRead", run: adapterCheckAnonymousRead},
}

func adapterCheckReadOnly(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	e.faulty.ResetCalls()
	r, err := e.get("/get", tok)
	if err != nil {
		return err
	}
	if err := r.wantOK("new=false a=1", "a stored session loads with its values"); err != nil {
		return err
	}
	if err := r.wantNoToken(ruleUnchanged); err != nil {
		return err
	}
	if n := e.writes(); n != 0 {
		return adapterViolation("store writes for "+r.call, fmt.Sprint(n), "0", ruleUnchanged)
	}
	return nil
}

func adapterCheckUntouched(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	e.faulty.ResetCalls()
	r, err := e.get("/untouched", tok)
	if err != nil {
		return err
	}
	if err := r.wantOK("untouched", "the handler's response passes through"); err != nil {
		return err
	}
	if err := r.wantNoToken(ruleUnchanged); err != nil {
		return err
	}
	if n := e.faulty.TotalCalls(); n != 0 {
		return adapterViolation("store calls for "+r.call, fmt.Sprint(n), "0",
			"the session is loaded lazily: a handler that never uses it costs no store call")
	}
	return nil
}

func adapterCheckAnonymousRead(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	r, err := e.get("/get", "")
	if err != nil {
		return err
	}
	if err := r.wantOK("new=true", "a request without a token has a new, empty session"); err != nil {
		return err
	}
	if err := r.wantNoToken("an empty new session sends no cookie"); err != nil {
		return err
	}
	if n := e.writes(); n != 0 {
		return adapterViolation("store writes for "+r.call, fmt.Sprint(n), "0", "an empty new session creates no record")
	}
	return nil
}

const (
	ruleVary         = "every response says Vary: Cookie (or the token header), as it depends on the session"
	ruleCacheControl = `a response that sets the cookie says Cache-Control: no-cache="Set-Cookie" so shared caches do not store it`
	ruleCookieAttrs  = "the session cookie is HttpOnly, SameSite=Lax, Path=/ by default, persistent by default, with a well-formed token"
)

// adapterHeaderChecks check the response headers that go with a session.
var adapterHeaderChecks = []adapterCheck{
	{name: "Vary", run: adapterCheckVary},
	{name: "CacheControl", run: adapterCheckCacheControl},
	{name: "CookieAttributes", run: adapterCheckCookieAttributes},
}

func adapterCheckVary(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	for _, q := range []struct{ path, token string }{
		{"/untouched", ""}, {"/get", ""}, {"/set?b=2", ""}, {"/untouched", tok}, {"/get", tok}, {"/set?b=2", tok}, {"/destroy", tok},
	} {
		r, err := e.get(q.path, q.token)
		if err != nil {
			return err
		}
		if !adapterHas(r.header, "Vary", "Cookie") {
			return adapterViolation(r.call+" Vary", fmt.Sprintf("%q", r.header.Values("Vary")), `a list with "Cookie"`, ruleVary)
		}
	}
	return nil
}

func adapterCheckCacheControl(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	set, err := e.get("/set?a=1", "")
	if err != nil {
		return err
	}
	if err := set.wantNewToken(e.validToken, "a new session that was written sends its token"); err != nil {
		return err
	}
	destroy, err := e.get("/destroy", set.token)
	if err != nil {
		return err
	}
	for _, r := range []*adapterResp{set, destroy} {
		if !r.sent {
			return adapterViolation(r.call+" Set-Cookie", "none", "the session cookie", "a new or destroyed session sends its cookie")
		}
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, `no-cache="Set-Cookie"`) {
			return adapterViolation(r.call+" Cache-Control", fmt.Sprintf("%q", cc), `no-cache="Set-Cookie"`, ruleCacheControl)
		}
	}
	return nil
}

func adapterCheckCookieAttributes(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterDefault); err != nil {
		return err
	}
	r, err := e.get("/set?a=1", "")
	if err != nil {
		return err
	}
	if err := r.wantNewToken(e.validToken, ruleCookieAttrs); err != nil {
		return err
	}
	c := r.cookie
	cfg := e.cfg()
	switch {
	case r.cookies != 1:
		return adapterViolation(r.call+" Set-Cookie lines for the session cookie", fmt.Sprint(r.cookies), "1", ruleCookieAttrs)
	case !c.HttpOnly:
		return adapterViolation(r.call+" cookie HttpOnly", "false", "true", ruleCookieAttrs)
	case c.SameSite != cfg.Cookie.SameSite || c.SameSite != http.SameSiteLaxMode:
		return adapterViolation(r.call+" cookie SameSite", fmt.Sprint(c.SameSite), "Lax", ruleCookieAttrs)
	case c.Path != "/":
		return adapterViolation(r.call+" cookie Path", fmt.Sprintf("%q", c.Path), `"/"`, ruleCookieAttrs)
	case c.MaxAge <= 0:
		return adapterViolation(r.call+" cookie Max-Age", fmt.Sprint(c.MaxAge), "a positive Max-Age (persistent cookie)", ruleCookieAttrs)
	case c.MaxAge > int(cfg.Lifetime.Seconds())+1:
		return adapterViolation(r.call+" cookie Max-Age", fmt.Sprint(c.MaxAge), fmt.Sprintf("at most the lifetime, %d", int(cfg.Lifetime.Seconds())), ruleCookieAttrs)
	}
	if _, ok := cfg.Tokens.(core.RandomTokens); ok && e.client == nil && !adapterBase64URL(c.Value, 43) {
		return adapterViolation(r.call+" cookie value", fmt.Sprintf("%d characters", len(c.Value)), "43 characters of base64url", ruleCookieAttrs)
	}
	return nil
}

// adapterBase64URL reports whether s is n characters of the base64url alphabet.
func adapterBase64URL(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}
