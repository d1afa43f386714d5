package conformance

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/cookie"
	"github.com/sessionkit/sessionkit/stores/memory"
)

// This file tests the adapter suite itself: a small reference adapter
// (testAdapter) must pass every check, and for every check a deliberately
// broken variant of it (or of the core settings or the store) must fail it,
// so that no check is vacuous.

// brokenKnobs breaks testAdapter in one way each.
type brokenKnobs struct {
	flushNoCommit    bool // Flush forwards without committing first
	readFromNoCommit bool // ReadFrom forwards without committing first
	commitAfterOnly  bool // no header hook: commits only after the handler returned
	infoCommits      bool // WriteHeader(1xx) commits as if it were the final header
	noFlushMethod    bool // no Flush method, but Unwrap: ResponseController flushes the inner writer
	noHijack         bool // neither Hijack nor Unwrap
	onlySetCookie    bool // commits into a scratch header and copies only Set-Cookie
	ignoreErrors     bool // a failed commit lets the handler's response through
	eagerLoad        bool // loads the session before the handler runs
	mutate           bool // sets a value on every session before the handler runs
	mutateAfter      bool // sets a value on every session after the handler returned
	forceSave        bool // calls Save before the handler runs
	onlyNewCookies   bool // drops Set-Cookie when the request carried a cookie
	noFinish         bool // never commits after the handler returned
	lateWithHeader   bool // the late commit passes a header, as if it could still be sent
	dedupeHeaders    bool // keeps only the first value of every request header
	rejectOddCookies bool // answers 500 to a malformed or repeated session cookie
}

// testAdapter is a minimal adapter on core.Manager, correct with the zero
// brokenKnobs.
func testAdapter(k brokenKnobs) Mount {
	return func(m *core.Manager, h Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name := m.Config().Cookie.Name
			if k.rejectOddCookies {
				c := r.Header.Get("Cookie")
				if n := strings.Count(c, name+"="); n > 1 || n == 1 && len(c) != len(name)+1+43 {
					http.Error(w, "bad cookie", http.StatusInternalServerError)
					return
				}
			}
			if k.dedupeHeaders {
				for name, v := range r.Header {
					r.Header[name] = v[:1]
				}
			}
			s := m.Begin(r)
			defer m.Release(s)
			tw := &testWriter{w: w, m: m, s: s, r: r, k: k, hadCookie: strings.Contains(r.Header.Get("Cookie"), name+"=")}
			if k.eagerLoad {
				s.IsNew()
			}
			if k.mutate {
				s.Set("_seen", "1")
			}
			if k.forceSave {
				s.Save()
			}
			var ww http.ResponseWriter = testFull{tw}
			switch {
			case k.noFlushMethod:
				ww = testNoFlush{tw}
			case k.noHijack:
				ww = testNoHijack{tw}
			}
			h(ww, r.WithContext(s.Context()), s)
			if k.mutateAfter {
				s.Set("_seen", "1")
			}
			tw.finish()
		})
	}
}

// testWriter commits the session before the header leaves.
type testWriter struct {
	w         http.ResponseWriter
	m         *core.Manager
	s         *core.Session
	r         *http.Request
	k         brokenKnobs
	hadCookie bool
	state     int // 0 armed, 1 committed, 2 failed, 3 hijacked
}

func (tw *testWriter) Header() http.Header { return tw.w.Header() }

func (tw *testWriter) hook() bool {
	if tw.k.commitAfterOnly {
		return tw.state != 2
	}
	return tw.commit()
}

func (tw *testWriter) commit() bool {
	switch tw.state {
	case 1, 3:
		return true
	case 2:
		return false
	}
	h := tw.w.Header()
	into := h
	if tw.k.onlySetCookie {
		into = http.Header{}
	}
	err := tw.m.Commit(tw.s, into)
	if tw.k.onlySetCookie {
		for _, v := range into.Values("Set-Cookie") {
			h.Add("Set-Cookie", v)
		}
	}
	if tw.k.onlyNewCookies && tw.hadCookie {
		h.Del("Set-Cookie")
	}
	if err != nil && !tw.k.ignoreErrors {
		tw.state = 2
		clear(h)
		tw.m.HandleError(tw.w, tw.r, err)
		return false
	}
	tw.state = 1
	return true
}

func (tw *testWriter) finish() {
	if tw.k.noFinish {
		return
	}
	switch tw.state {
	case 0:
		tw.commit()
	case 1, 3:
		var h http.Header
		if tw.k.lateWithHeader {
			h = http.Header{}
		}
		_ = tw.m.Commit(tw.s, h)
	}
}

func (tw *testWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols && !tw.k.infoCommits {
		tw.w.WriteHeader(code)
		return
	}
	if tw.hook() {
		tw.w.WriteHeader(code)
	}
}

func (tw *testWriter) Write(b []byte) (int, error) {
	if !tw.hook() {
		return 0, io.ErrClosedPipe
	}
	return tw.w.Write(b)
}

func (tw *testWriter) readFrom(src io.Reader) (int64, error) {
	if !tw.k.readFromNoCommit && !tw.hook() {
		return 0, io.ErrClosedPipe
	}
	return tw.w.(io.ReaderFrom).ReadFrom(src)
}

func (tw *testWriter) flushError() error {
	if !tw.k.flushNoCommit && !tw.hook() {
		return io.ErrClosedPipe
	}
	return http.NewResponseController(tw.w).Flush()
}

func (tw *testWriter) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(tw.w).Hijack()
	if err == nil {
		tw.state = 3
	}
	return c, rw, err
}

// testFull has every optional method.
type testFull struct{ *testWriter }

func (f testFull) ReadFrom(src io.Reader) (int64, error)        { return f.readFrom(src) }
func (f testFull) Flush()                                       { _ = f.flushError() }
func (f testFull) FlushError() error                            { return f.flushError() }
func (f testFull) Hijack() (net.Conn, *bufio.ReadWriter, error) { return f.hijack() }
func (f testFull) Unwrap() http.ResponseWriter                  { return f.w }

// testNoFlush lacks Flush, so ResponseController unwraps past the hook.
type testNoFlush struct{ *testWriter }

func (f testNoFlush) ReadFrom(src io.Reader) (int64, error)        { return f.readFrom(src) }
func (f testNoFlush) Hijack() (net.Conn, *bufio.ReadWriter, error) { return f.hijack() }
func (f testNoFlush) Unwrap() http.ResponseWriter                  { return f.w }

// testNoHijack cannot hijack and hides the inner writer.
type testNoHijack struct{ *testWriter }

func (f testNoHijack) ReadFrom(src io.Reader) (int64, error) { return f.readFrom(src) }
func (f testNoHijack) Flush()                                { _ = f.flushError() }
func (f testNoHijack) FlushError() error                     { return f.flushError() }

// noCASStore hides every optional capability of the store: last writer wins.
type noCASStore struct{ core.Store }

// writeOnceStore ignores every write to a key that already has a record.
type writeOnceStore struct{ core.Store }

func (s writeOnceStore) Save(ctx context.Context, key string, data []byte, exp time.Time) error {
	if _, found, err := s.Store.Load(ctx, key); err != nil || found {
		return err
	}
	return s.Store.Save(ctx, key, data, exp)
}

// revokeOnlyClientStore hides the core.RetiringClientStore of a
// client-side store: Renew revokes the old session id, so a request with
// the pre-login token gets a new session and a cookie.
type revokeOnlyClientStore struct{ core.ClientStore }

// retiredForeverClientStore never lets a retired token become unknown:
// its grace window never ends.
type retiredForeverClientStore struct{ core.RetiringClientStore }

func (c retiredForeverClientStore) Retired(ctx context.Context, name, token string) (time.Time, error) {
	until, err := c.RetiringClientStore.Retired(ctx, name, token)
	if err != nil || until.IsZero() {
		return until, err
	}
	return time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), nil
}

// testClientStore returns a stores/cookie store with a memory revocation list.
func testClientStore(t *testing.T) *cookie.ClientStore {
	list := memory.New(memory.Config{CleanupInterval: -1})
	t.Cleanup(func() { _ = list.Close() })
	st, err := cookie.New(cookie.Config{Keys: [][]byte{bytes.Repeat([]byte{7}, cookie.KeySize)}, Revocations: list})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// brokenVariant is one way of breaking the adapter, the core settings or the store.
type brokenVariant struct {
	knobs    brokenKnobs
	store    func(core.Store) core.Store
	override func(cfg *core.Config)
	// client, when set, runs the check with client-side sessions in this
	// store instead of a Store.
	client func(t *testing.T) core.ClientStore
	// keepsEndedTokens runs the client-side check declaring
	// AdapterOptions.KeepsEndedTokens (no revocation list).
	keepsEndedTokens bool
}

var brokenVariants = map[string]brokenVariant{
	"flushNoCommit":    {knobs: brokenKnobs{flushNoCommit: true}},
	"readFromNoCommit": {knobs: brokenKnobs{readFromNoCommit: true}},
	"commitAfterOnly":  {knobs: brokenKnobs{commitAfterOnly: true}},
	"infoCommits":      {knobs: brokenKnobs{infoCommits: true}},
	"noFlushMethod":    {knobs: brokenKnobs{noFlushMethod: true}},
	"noHijack":         {knobs: brokenKnobs{noHijack: true}},
	"onlySetCookie":    {knobs: brokenKnobs{onlySetCookie: true}},
	"ignoreErrors":     {knobs: brokenKnobs{ignoreErrors: true}},
	"eagerLoad":        {knobs: brokenKnobs{eagerLoad: true}},
	"mutate":           {knobs: brokenKnobs{mutate: true}},
	"mutateAfter":      {knobs: brokenKnobs{mutateAfter: true}},
	"forceSave":        {knobs: brokenKnobs{forceSave: true}},
	"onlyNewCookies":   {knobs: brokenKnobs{onlyNewCookies: true}},
	"noFinish":         {knobs: brokenKnobs{noFinish: true}},
	"lateWithHeader":   {knobs: brokenKnobs{lateWithHeader: true}},
	"dedupeHeaders":    {knobs: brokenKnobs{dedupeHeaders: true}},
	"rejectOddCookies": {knobs: brokenKnobs{rejectOddCookies: true}},
	"noCAS":            {store: func(s core.Store) core.Store { return noCASStore{s} }},
	"ignoreDelete":     {store: func(s core.Store) core.Store { return endNoop{s.(*memory.Store)} }},
	"writeOnce":        {store: func(s core.Store) core.Store { return writeOnceStore{noCASStore{s}} }},
	"realClock":        {override: func(cfg *core.Config) { cfg.Now = time.Now }},
	"adoptAlways":      {override: func(cfg *core.Config) { cfg.AdoptUnknownTokens = true }},
	"adoptNever":       {override: func(cfg *core.Config) { cfg.AdoptUnknownTokens = false }},
	"sameSiteStrict":   {override: func(cfg *core.Config) { cfg.Cookie.SameSite = http.SameSiteStrictMode }},
	"browserCookie":    {override: func(cfg *core.Config) { cfg.BrowserSessionCookie = true }},
	"noRenewGrace":     {override: func(cfg *core.Config) { cfg.RenewGrace = -1 }},
	"clientRevokeOnly": {client: func(t *testing.T) core.ClientStore { return revokeOnlyClientStore{testClientStore(t)} }},
	"clientRetiredForever": {client: func(t *testing.T) core.ClientStore {
		return retiredForeverClientStore{testClientStore(t)}
	}},
	// giveUpEarly: commits give up long before the contention is over, as
	// a core with a small fixed retry count did.
	"giveUpEarly": {
		store: func(s core.Store) core.Store {
			f := NewFaultyStore(s)
			f.SetLatency(time.Millisecond)
			return f.Store()
		},
		override: func(cfg *core.Config) { cfg.CommitTimeout = 3 * time.Millisecond },
	},
}

// brokenFails lists, for every check, the variants that must fail it.
var brokenFails = map[string][]string{
	"Commit/WriteHeader":                 {"commitAfterOnly"},
	"Commit/Write":                       {"commitAfterOnly"},
	"Commit/ReadFrom":                    {"readFromNoCommit", "commitAfterOnly"},
	"Commit/Flush":                       {"flushNoCommit", "noFlushMethod"},
	"Commit/ResponseControllerFlush":     {"flushNoCommit", "noFlushMethod"},
	"Commit/NoWrite":                     {"noFinish"},
	"Commit/EarlyHints":                  {"infoCommits"},
	"Unchanged/ReadOnly":                 {"mutate"},
	"Unchanged/Untouched":                {"eagerLoad", "mutate"},
	"Unchanged/AnonymousRead":            {"mutate"},
	"Headers/Vary":                       {"onlySetCookie"},
	"Headers/CacheControl":               {"onlySetCookie"},
	"Headers/CookieAttributes":           {"sameSiteStrict", "browserCookie"},
	"Lifecycle/Persistence":              {"writeOnce"},
	"Lifecycle/Renew":                    {"onlyNewCookies"},
	"Lifecycle/Destroy":                  {"onlyNewCookies"},
	"Lifecycle/DestroyWithoutSession":    {"mutateAfter"},
	"Errors/LoadFailure":                 {"ignoreErrors"},
	"Errors/CommitFailure":               {"ignoreErrors"},
	"Tokens/StrictUnknown":               {"adoptAlways"},
	"Tokens/AdoptUnknown":                {"adoptNever"},
	"Tokens/Malformed":                   {"rejectOddCookies"},
	"Expiry/IdleTimeout":                 {"realClock"},
	"Expiry/IdleRefresh":                 {"realClock"},
	"Expiry/AbsoluteLifetime":            {"realClock"},
	"Concurrency/DifferentKeys":          {"noCAS"},
	"Concurrency/DifferentKeysSlowStore": {"noCAS"},
	"Concurrency/InFlightDuringDestroy":  {"noCAS"},
	"Concurrency/InFlightDuringRenew":    {"noCAS"},
	"Race/Contention":                    {"giveUpEarly"},
	"Race/FlashExactlyOnce":              {"noCAS"},
	"Race/RenewGrace":                    {"noRenewGrace", "clientRevokeOnly", "clientRetiredForever"},
	"HeaderTransport/RoundTrip":          {"onlySetCookie"},
	"HeaderTransport/Destroy":            {"onlySetCookie"},
	"HeaderTransport/Duplicate":          {"dedupeHeaders"},
	"LateChanges/ExistingSession":        {"noFinish"},
	"LateChanges/NewSession":             {"lateWithHeader"},
	"Features/ManualSave":                {"forceSave"},
	"Features/Flash":                     {"writeOnce"},
	"Features/Hijack":                    {"noHijack"},
	"Features/HijackSavesChanges":        {"noFinish"},
	"Features/UserSessions":              {"ignoreDelete"},
	"Features/ClientUserSessions": {"revokerNever", "revokerIgnoreKeep", "revokerAllUsers", "revokerOneShot",
		"revokerErrorRevoked", "revokerReplace", "revokerSinceFromSeal", "revokerClaimsNoList"},
}

// TestAdapterReference runs the whole suite against the correct testAdapter.
func TestAdapterReference(t *testing.T) {
	TestAdapter(t, testAdapter(brokenKnobs{}))
}

// TestAdapterBroken shows every check failing on a broken variant.
func TestAdapterBroken(t *testing.T) {
	seen := make(map[string]bool)
	for _, g := range adapterGroups {
		for _, c := range g.checks {
			name := g.name + "/" + c.name
			seen[name] = true
			variants := brokenFails[name]
			if len(variants) == 0 {
				t.Errorf("check %s: no broken variant shows that it can fail", name)
			}
			for _, vname := range variants {
				t.Run(name+"/"+vname, func(t *testing.T) {
					v, ok := brokenVariants[vname]
					if !ok {
						t.Fatalf("unknown variant %q", vname)
					}
					err := runBroken(t, c, v)
					if err == nil {
						t.Fatalf("check %s passed against the broken variant %s", name, vname)
					}
					if msg := err.Error(); !strings.Contains(msg, " = ") || !strings.Contains(msg, ", want ") || !strings.Contains(msg, "(rule: ") {
						t.Errorf("failure message %q does not read Op(args) = got, want want (rule: ...)", msg)
					}
					t.Logf("fails as it should: %v", err)
				})
			}
		}
	}
	for name := range brokenFails {
		if !seen[name] {
			t.Errorf("brokenFails lists %s, which is not a check", name)
		}
	}
}

// runBroken runs check c against variant v, bypassing the capability skips.
func runBroken(t *testing.T, c adapterCheck, v brokenVariant) error {
	opts := AdapterOptions{NewStore: func(t *testing.T) core.Store {
		st := memory.New(memory.Config{CleanupInterval: -1})
		t.Cleanup(func() { _ = st.Close() })
		if v.store != nil {
			return v.store(st)
		}
		return st
	}}
	if v.client != nil {
		opts = AdapterOptions{NewClientStore: v.client, ClientSide: true, KeepsEndedTokens: v.keepsEndedTokens}
	}
	e := newAdapterEnv(t, testAdapter(v.knobs), opts)
	e.override = v.override
	return c.run(e)
}

// TestAdapterReferenceClientSide runs the checks that apply to client-side
// sessions with a stores/cookie store and a revocation list (the cookie
// store's own tests run the whole suite behind every adapter).
func TestAdapterReferenceClientSide(t *testing.T) {
	mount := testAdapter(brokenKnobs{})
	opts := AdapterOptions{NewClientStore: func(t *testing.T) core.ClientStore { return testClientStore(t) }}
	for _, g := range adapterGroups {
		if g.name != "Race" && g.name != "Lifecycle" {
			continue
		}
		for _, c := range g.checks {
			t.Run(g.name+"/"+c.name, func(t *testing.T) { adapterRunCheck(t, mount, opts, c) })
		}
	}
}

// TestAdapterSkips checks that capability-dependent checks are skipped, not
// failed, for stores that declare they lack the capability.
func TestAdapterSkips(t *testing.T) {
	mount := testAdapter(brokenKnobs{})
	for _, tc := range []struct {
		name string
		opts AdapterOptions
	}{
		{"noCAS", AdapterOptions{NewStore: func(t *testing.T) core.Store {
			st := memory.New(memory.Config{CleanupInterval: -1})
			t.Cleanup(func() { _ = st.Close() })
			return noCASStore{st}
		}}},
		{"clientSide", AdapterOptions{ClientSide: true}},
		{"keepsEndedTokens", AdapterOptions{ClientSide: true, KeepsEndedTokens: true}},
	} {
		e := newAdapterEnv(t, mount, tc.opts)
		for _, g := range adapterGroups {
			for _, c := range g.checks {
				skipped := c.skip(e) != ""
				if want := c.cas || (c.serverRecord && tc.opts.ClientSide) || (c.endsTokens && tc.opts.KeepsEndedTokens) || (c.clientOnly && !tc.opts.ClientSide); skipped != want {
					t.Errorf("%s: %s/%s skipped = %t, want %t", tc.name, g.name, c.name, skipped, want)
				}
			}
		}
	}
}

// endNoop ignores every way of ending a record: Delete, and a
// CompareAndSwap to an expiry that is not in the future (how
// Manager.EndSession and EndUserSessions end a record at the version
// they listed), which it reports as done.
type endNoop struct{ *memory.Store }

func (endNoop) Delete(context.Context, string) error { return nil }

func (s endNoop) CompareAndSwap(ctx context.Context, key string, version uint64, data []byte, exp time.Time) (uint64, error) {
	if !exp.After(time.Now()) {
		return version, nil
	}
	return s.Store.CompareAndSwap(ctx, key, version, data, exp)
}
