package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// adapterTimeout bounds every wait of a check, so that a hanging adapter
// fails the check instead of the whole test binary.
const adapterTimeout = 10 * time.Second

// adapterEnv is the fresh world of one check: a store wrapped in a
// FaultyStore, a clock the check can move, a log buffer, and (after start)
// a Manager and a server running the adapter.
type adapterEnv struct {
	t     *testing.T
	mount Mount
	opts  AdapterOptions

	inner  core.Store       // the store under the FaultyStore, for inspection; nil for client-side sessions
	client core.ClientStore // the client-side store, counted through faulty; nil for a Store
	faulty *FaultyStore     // counts calls and injects faults
	clock  adapterClock
	logs   adapterBuffer // the Manager's log output
	errlog adapterBuffer // the http.Server's error log (panics land here)

	// override, set only by the suite's self-tests, adjusts the
	// configuration last, to simulate a broken core.
	override func(cfg *core.Config)

	m       *core.Manager
	handler http.Handler
	srv     *httptest.Server
	http    *http.Client
}

// newAdapterEnv returns a fresh environment whose resources t cleans up.
func newAdapterEnv(t *testing.T, mount Mount, opts AdapterOptions) *adapterEnv {
	e := &adapterEnv{t: t, mount: mount, opts: opts}
	if opts.NewClientStore != nil {
		cs := opts.NewClientStore(t)
		if cs == nil {
			t.Fatal("conformance: AdapterOptions.NewClientStore returned nil")
		}
		e.faulty = NewFaultyStore(nil)
		e.client = newAdapterClientStore(e.faulty, cs)
		return e
	}
	if opts.NewStore != nil {
		e.inner = opts.NewStore(t)
		if e.inner == nil {
			t.Fatal("conformance: AdapterOptions.NewStore returned nil")
		}
	} else {
		st := memory.New(memory.Config{CleanupInterval: -1})
		t.Cleanup(func() { _ = st.Close() })
		e.inner = st
	}
	e.faulty = NewFaultyStore(e.inner)
	return e
}

// hasCAS reports whether the store has compare-and-swap.
func (e *adapterEnv) hasCAS() bool {
	if e.inner == nil {
		return false
	}
	_, ok := e.inner.(core.CompareAndSwapper)
	return ok
}

// start builds the Manager from cfg (Store, Now and Logger are the
// environment's) and serves mount's handler for h.
func (e *adapterEnv) start(cfg core.Config, h Handler) error {
	if e.client != nil {
		cfg.ClientStore = e.client
	} else {
		cfg.Store = e.faulty.Store()
	}
	cfg.Now = e.clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(&e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	header := cfg.Header
	if e.opts.Configure != nil {
		e.opts.Configure(&cfg)
		cfg.Header = header
		if cfg.ClientStore != nil && !isAdapterClientStore(cfg.ClientStore) {
			// Configure installed a client-side store: count it and inject
			// faults into it too.
			e.client = newAdapterClientStore(e.faulty, cfg.ClientStore)
			cfg.ClientStore = e.client
		}
	}
	if e.override != nil {
		e.override(&cfg)
	}
	m, err := core.New(cfg)
	if err != nil {
		return fmt.Errorf("conformance: core.New: %w", err)
	}
	e.m = m
	e.handler = e.mount(m, h)
	if e.handler == nil {
		return adapterViolation("Mount(m, h)", "nil http.Handler", "a handler", "Mount returns the adapter's handler")
	}
	e.srv = httptest.NewUnstartedServer(e.handler)
	e.srv.Config.ErrorLog = log.New(&e.errlog, "", 0)
	e.srv.Start()
	e.t.Cleanup(e.srv.Close)
	e.http = e.srv.Client()
	e.http.Timeout = adapterTimeout
	return nil
}

// validToken reports whether tok is well-formed: accepted by the Manager's
// TokenGenerator, or, for client-side sessions, a non-empty value that can
// travel in a cookie or header unquoted.
func (e *adapterEnv) validToken(tok string) bool {
	if e.client == nil {
		return e.cfg().Tokens.Valid(tok)
	}
	if tok == "" {
		return false
	}
	for _, c := range []byte(tok) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"',;\\", c) >= 0 {
			return false
		}
	}
	return true
}

// cfg returns the Manager's normalised configuration.
func (e *adapterEnv) cfg() core.Config { return e.m.Config() }

// adapterResp is what a check needs to know about one response.
type adapterResp struct {
	call   string // "GET /path", for messages
	status int
	header http.Header
	body   string
	// sent reports that the response carries the token: a Set-Cookie for
	// the session cookie, or the token header. token is its value and
	// cookie the parsed cookie (cookie transport only).
	sent   bool
	token  string
	cookie *http.Cookie
	// cookies counts the Set-Cookie lines for the session cookie.
	cookies int
}

// adapterReq describes one request.
type adapterReq struct {
	method string
	path   string
	token  string // sent as the cookie or token header when not ""
	// prepare, when set, adjusts the request last (raw headers, say).
	prepare func(r *http.Request)
	// trace, when set, is installed as the request's context (httptrace).
	ctx context.Context
}

// get sends GET path with token (none when "").
func (e *adapterEnv) get(path, token string) (*adapterResp, error) {
	return e.do(adapterReq{method: http.MethodGet, path: path, token: token})
}

// do sends a request to the server and reads the whole response.
func (e *adapterEnv) do(q adapterReq) (*adapterResp, error) {
	if q.method == "" {
		q.method = http.MethodGet
	}
	ctx := q.ctx
	if ctx == nil {
		ctx = e.t.Context()
	}
	call := q.method + " " + q.path
	if q.token != "" {
		call += " with the token"
	}
	req, err := http.NewRequestWithContext(ctx, q.method, e.srv.URL+q.path, nil)
	if err != nil {
		return nil, fmt.Errorf("conformance: %s: %w", call, err)
	}
	if q.token != "" {
		e.setToken(req, q.token)
	}
	if q.prepare != nil {
		q.prepare(req)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return nil, adapterViolation(call, fmt.Sprintf("error %q", err), "a response", "the adapter answers every request")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, adapterViolation(call+": reading the body", fmt.Sprintf("error %q", err), "the whole body", "the adapter answers every request")
	}
	return e.response(call, resp.StatusCode, resp.Header, string(body)), nil
}

// serve runs r through the adapter's handler directly, without a server,
// for requests no client can send (a NUL byte in a header).
func (e *adapterEnv) serve(call string, r *http.Request) (resp *adapterResp, err error) {
	rec := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			err = adapterViolation(call, fmt.Sprintf("panic %v", p), "a response", "malformed tokens are no session, never a panic")
		}
	}()
	e.handler.ServeHTTP(rec, r)
	res := rec.Result()
	return e.response(call, res.StatusCode, res.Header, rec.Body.String()), nil
}

// response extracts the token from a response.
func (e *adapterEnv) response(call string, status int, h http.Header, body string) *adapterResp {
	r := &adapterResp{call: call, status: status, header: h, body: body}
	cfg := e.cfg()
	if cfg.Header != "" {
		if v, ok := h[cfg.Header]; ok && len(v) > 0 {
			r.sent, r.token = true, v[len(v)-1]
		}
		return r
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == cfg.Cookie.Name {
			r.sent, r.token, r.cookie = true, c.Value, c
			r.cookies++
		}
	}
	return r
}

// setToken puts token into r the way the configured transport expects it.
func (e *adapterEnv) setToken(r *http.Request, token string) {
	cfg := e.cfg()
	if cfg.Header != "" {
		r.Header.Set(cfg.Header, token)
		return
	}
	r.Header.Set("Cookie", cfg.Cookie.Name+"="+token)
}

// newSession creates a session holding key=value through path /set and
// returns its token.
func (e *adapterEnv) newSession(values string) (string, error) {
	r, err := e.get("/set?"+values, "")
	if err != nil {
		return "", err
	}
	if err := r.wantStatus(http.StatusOK, "a request that sets a value succeeds"); err != nil {
		return "", err
	}
	if !r.sent || r.token == "" {
		return "", adapterViolation(r.call, "no token", "a new token", "a new session that was written sends its token")
	}
	return r.token, nil
}

// follow returns the token a browser would send next: the one r sent, or
// tok when r sent none (or an empty one).
func (r *adapterResp) follow(tok string) string {
	if r.sent && r.token != "" {
		return r.token
	}
	return tok
}

// wantStatus requires the status code.
func (r *adapterResp) wantStatus(code int, rule string) error {
	if r.status != code {
		return adapterViolation(r.call+" status", fmt.Sprint(r.status), fmt.Sprint(code), rule)
	}
	return nil
}

// wantBody requires the body.
func (r *adapterResp) wantBody(body, rule string) error {
	if r.body != body {
		return adapterViolation(r.call+" body", fmt.Sprintf("%q", adapterShort(r.body)), fmt.Sprintf("%q", body), rule)
	}
	return nil
}

// wantOK requires status 200 and the body.
func (r *adapterResp) wantOK(body, rule string) error {
	if err := r.wantStatus(http.StatusOK, rule); err != nil {
		return err
	}
	return r.wantBody(body, rule)
}

// wantNoToken requires that the response does not send a token.
func (r *adapterResp) wantNoToken(rule string) error {
	if r.sent {
		return adapterViolation(r.call+" token sent", "yes", "none", rule)
	}
	return nil
}

// wantNewToken requires a token that valid accepts and that differs from
// each of old.
func (r *adapterResp) wantNewToken(valid func(string) bool, rule string, old ...string) error {
	switch {
	case !r.sent || r.token == "":
		return adapterViolation(r.call+" token sent", "none", "a new token", rule)
	case !valid(r.token):
		return adapterViolation(r.call+" token", fmt.Sprintf("malformed (%d characters)", len(r.token)), "a well-formed token", rule)
	}
	for _, o := range old {
		if r.token == o {
			return adapterViolation(r.call+" token", "the token the client sent", "a fresh token", rule)
		}
	}
	return nil
}

// adapterViolation formats a failed check: Op(args) = got, want want (rule).
func adapterViolation(call, got, want, rule string) error {
	return fmt.Errorf("%s = %s, want %s (rule: %s)", call, got, want, rule)
}

// adapterShort shortens s for a message.
func adapterShort(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// adapterClock is the Manager's clock: real time plus an offset the check
// moves forward, so that stores checking expiry against real time keep
// every record the core still considers live.
type adapterClock struct{ offset atomic.Int64 }

// Now returns the current time of the clock.
func (c *adapterClock) Now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// Advance moves the clock forward by d.
func (c *adapterClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// adapterBuffer is a bytes.Buffer safe for concurrent use.
type adapterBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *adapterBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *adapterBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// adapterRecord loads the record of token straight from the store.
func (e *adapterEnv) adapterRecord(token string) (bool, error) {
	_, found, err := e.inner.Load(e.t.Context(), core.StoreKey(token))
	if err != nil {
		return false, fmt.Errorf("conformance: inspecting the store: %w", err)
	}
	return found, nil
}

// wantNoRecord requires that the store holds no record for token.
func (e *adapterEnv) wantNoRecord(label, token, rule string) error {
	if e.opts.ClientSide || e.inner == nil {
		return nil
	}
	found, err := e.adapterRecord(token)
	if err != nil {
		return err
	}
	if found {
		return adapterViolation(fmt.Sprintf("store Load(key of %s)", label), "a record", "not found", rule)
	}
	return nil
}

// writes returns how many store writes (Save, CompareAndSwap, Touch,
// CompareAndSwapUser, Renew) were made.
func (e *adapterEnv) writes() int {
	return e.faulty.Calls(OpSave) + e.faulty.Calls(OpCompareAndSwap) + e.faulty.Calls(OpTouch) +
		e.faulty.Calls(OpCompareAndSwapUser) + e.faulty.Calls(OpRenew)
}

// adapterHas reports whether the comma-separated header h lists v.
func adapterHas(h http.Header, name, v string) bool {
	for _, line := range h.Values(name) {
		for _, f := range strings.Split(line, ",") {
			if strings.EqualFold(strings.TrimSpace(f), v) {
				return true
			}
		}
	}
	return false
}

// adapterDefault is the route table most checks use:
//
//	/set?k=v&...   sets each k to v, writes "ok"
//	/get           writes the state: "new=<IsNew> k=v ..." (keys sorted)
//	/renew         Renew, writes "ok"
//	/destroy       Destroy, writes "ok"
//	/destroy-quietly Destroy, writes nothing
//	/untouched     never touches the session, writes "untouched"
func adapterDefault(w http.ResponseWriter, r *http.Request, s *core.Session) {
	switch r.URL.Path {
	case "/set":
		for k, v := range r.URL.Query() {
			s.Set(k, v[0])
		}
		io.WriteString(w, "ok")
	case "/get":
		io.WriteString(w, adapterState(s))
	case "/renew":
		s.Renew()
		io.WriteString(w, "ok")
	case "/destroy":
		s.Destroy()
		io.WriteString(w, "ok")
	case "/destroy-quietly":
		s.Destroy()
	case "/untouched":
		io.WriteString(w, "untouched")
	default:
		http.NotFound(w, r)
	}
}

// adapterState renders the session: "new=<IsNew> k=v ..." with keys sorted.
func adapterState(s *core.Session) string {
	var b strings.Builder
	fmt.Fprintf(&b, "new=%t", s.IsNew())
	for _, k := range s.Keys() {
		v, _ := s.Get(k)
		fmt.Fprintf(&b, " %s=%v", k, v)
	}
	return b.String()
}

// adapterClientStore counts the calls of a client-side store and injects
// faults through a FaultyStore: Open as OpLoad, Seal as OpSave and Revoke
// as OpDelete (and, for a core.RetiringClientStore, Retired as OpLoad and
// Retire as OpDelete; for a core.UserRevoker, UserRevoked as OpLoad and
// RevokeUser as OpDelete).
type adapterClientStore struct {
	f     *FaultyStore
	inner core.ClientStore
}

// newAdapterClientStore wraps inner, keeping its core.RetiringClientStore
// and its core.UserRevoker.
func newAdapterClientStore(f *FaultyStore, inner core.ClientStore) core.ClientStore {
	c := adapterClientStore{f: f, inner: inner}
	r, retiring := inner.(core.RetiringClientStore)
	u, revoking := inner.(core.UserRevoker)
	switch {
	case retiring && revoking:
		return adapterRetiringUserClientStore{adapterRetiringClientStore{c, r}, adapterUserRevoker{f, u}}
	case retiring:
		return adapterRetiringClientStore{adapterClientStore: c, r: r}
	case revoking:
		return adapterUserClientStore{c, adapterUserRevoker{f, u}}
	}
	return c
}

// isAdapterClientStore reports whether cs is already wrapped.
func isAdapterClientStore(cs core.ClientStore) bool {
	switch cs.(type) {
	case adapterClientStore, adapterRetiringClientStore, adapterUserClientStore, adapterRetiringUserClientStore:
		return true
	}
	return false
}

// adapterUserRevoker counts and fault-injects the calls of a
// core.UserRevoker: UserRevoked as OpLoad, RevokeUser as OpDelete.
type adapterUserRevoker struct {
	uf *FaultyStore
	u  core.UserRevoker
}

// RevokeUser implements core.UserRevoker.
func (c adapterUserRevoker) RevokeUser(ctx context.Context, name, user, keepID string, at, until time.Time) error {
	if err := c.uf.enter(ctx, OpDelete); err != nil {
		return err
	}
	return c.u.RevokeUser(ctx, name, user, keepID, at, until)
}

// UserRevoked implements core.UserRevoker.
func (c adapterUserRevoker) UserRevoked(ctx context.Context, name, user, id string, since time.Time) (bool, error) {
	if err := c.uf.enter(ctx, OpLoad); err != nil {
		return false, err
	}
	return c.u.UserRevoked(ctx, name, user, id, since)
}

// adapterUserClientStore is adapterClientStore for a core.UserRevoker.
type adapterUserClientStore struct {
	adapterClientStore
	adapterUserRevoker
}

// adapterRetiringUserClientStore is adapterClientStore for a store that
// is both a core.RetiringClientStore and a core.UserRevoker.
type adapterRetiringUserClientStore struct {
	adapterRetiringClientStore
	adapterUserRevoker
}

// adapterRetiringClientStore is adapterClientStore for a
// core.RetiringClientStore.
type adapterRetiringClientStore struct {
	adapterClientStore
	r core.RetiringClientStore
}

// Retire implements core.RetiringClientStore.
func (c adapterRetiringClientStore) Retire(ctx context.Context, name, id string, graceUntil, expiry time.Time) error {
	if err := c.f.enter(ctx, OpDelete); err != nil {
		return err
	}
	return c.r.Retire(ctx, name, id, graceUntil, expiry)
}

// Retired implements core.RetiringClientStore.
func (c adapterRetiringClientStore) Retired(ctx context.Context, name, token string) (time.Time, error) {
	if err := c.f.enter(ctx, OpLoad); err != nil {
		return time.Time{}, err
	}
	return c.r.Retired(ctx, name, token)
}

// Seal implements core.ClientStore.
func (c adapterClientStore) Seal(ctx context.Context, name, id string, data []byte, expiry time.Time) (string, error) {
	if err := c.f.enter(ctx, OpSave); err != nil {
		return "", err
	}
	return c.inner.Seal(ctx, name, id, data, expiry)
}

// Open implements core.ClientStore.
func (c adapterClientStore) Open(ctx context.Context, name, token string) (string, []byte, time.Time, bool, error) {
	if err := c.f.enter(ctx, OpLoad); err != nil {
		return "", nil, time.Time{}, false, err
	}
	return c.inner.Open(ctx, name, token)
}

// Revoke implements core.ClientStore.
func (c adapterClientStore) Revoke(ctx context.Context, name, id string, expiry time.Time) error {
	if err := c.f.enter(ctx, OpDelete); err != nil {
		return err
	}
	return c.inner.Revoke(ctx, name, id, expiry)
}
