package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit/internal/keylock"
)

// Manager runs the session life cycle for one configuration: it reads the
// token from a request, loads the session lazily, and commits it once,
// just before the response header leaves. Adapters for net/http, Gin and
// Echo drive it; applications create it with New and share it.
type Manager struct {
	cfg     Config
	cas     CompareAndSwapper
	toucher Toucher // Store, when the idle refresh touches (see refresh)
	client  ClientStore
	retirer RetiringClientStore // client, when it can and RenewGrace is on
	users   UserIndexer         // Store, when it keeps a user index
	renewer Renewer             // Store, when it renews in one step
	iter    Iterator            // Store, when it can list its records
	revoker UserRevoker         // client, when it can revoke a user's sessions
	vary    []string
	// locks serialises this process's writes to one store key: the load,
	// rebase and compare-and-swap of a commit, and the claim of Flashes.
	// Commits to one session from one process therefore never race each
	// other; only other processes can make a compare-and-swap conflict. A
	// lock's Value is the record version this Manager last wrote or loaded
	// under it, or zero: a commit whose request loaded another version
	// rebases before its compare-and-swap instead of after a conflict. No
	// lock is held while a handler runs.
	locks  keylock.Table[uint64]
	obs    Observer       // Config.Observer; nil: no events
	cookie cookieTemplate // the session cookie's Set-Cookie value, cut for writeToken

	userStore  Store        // Config.Store as given (cfg.Store may be observed)
	userClient ClientStore  // Config.ClientStore as given
	realClock  bool         // Config.Now was not set: cfg.Now() is time.Now()
	encodesNew bool         // a server-side BinaryCodec session without client information: see Session.encodableNew
	settling   atomic.Int32 // renews being settled in the background (see settleLater)
}

// New returns a Manager for cfg, or an error wrapping ErrConfig when cfg
// is invalid.
func New(cfg Config) (*Manager, error) {
	realClock := cfg.Now == nil
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, obs: cfg.Observer, userStore: cfg.Store, userClient: cfg.ClientStore, realClock: realClock}
	m.observeStores()
	m.client = m.cfg.ClientStore
	if _, ok := cfg.ClientStore.(RetiringClientStore); ok && cfg.RenewGrace > 0 {
		m.retirer = m.client.(RetiringClientStore)
	}
	if _, ok := cfg.ClientStore.(UserRevoker); ok {
		m.revoker = m.client.(UserRevoker)
	}
	if m.client == nil {
		m.cas, _ = m.cfg.Store.(CompareAndSwapper)
		// Touch refreshes only where no retired marker can stand under a
		// session's key, or where no compare-and-swap can refresh instead
		// (see refresh).
		if t, ok := m.cfg.Store.(Toucher); ok && (m.cas == nil || m.cfg.RenewGrace < 0) {
			m.toucher = t
		}
		m.users, _ = m.cfg.Store.(UserIndexer)
		m.renewer, _ = m.cfg.Store.(Renewer)
		m.iter, _ = m.cfg.Store.(Iterator)
		// A new session's record is written from its changes (see
		// Session.encodableNew) only when the stamp that a write with
		// client information would add (see stamp) is not wanted.
		_, binary := m.cfg.Codec.(BinaryCodec)
		m.encodesNew = binary && !cfg.RecordClientInfo
		if m.cas == nil {
			cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn,
				"sessionkit: the store does not implement core.CompareAndSwapper: concurrent updates to one session can be lost (the last writer wins)",
				slog.String("store", fmt.Sprintf("%T", cfg.Store)))
		}
	}
	varyOn := "Cookie"
	if cfg.Header != "" {
		varyOn = cfg.Header
	}
	m.vary = []string{varyOn}
	if cfg.Header == "" {
		m.cookie = newCookieTemplate(cfg.Cookie)
	}
	return m, nil
}

// Config returns the Manager's configuration with its defaults filled in.
func (m *Manager) Config() Config {
	c := m.cfg
	c.Store, c.ClientStore = m.userStore, m.userClient
	return c
}

// Begin returns the session for r without touching the store. The caller
// (an adapter) must call Commit before the response header is written and
// Release once the handler has returned.
//
// Sessions are deliberately not pooled: a context derived from the
// request's (say with context.WithoutCancel) may outlive the request, and
// must never lead to a session recycled for another visitor.
//
// Adapter API: application code never calls Begin; the middleware does.
func (m *Manager) Begin(r *http.Request) *Session {
	s := &Session{m: m, req: r}
	s.ctx = sessionContext{Context: r.Context(), s: s}
	return s
}

// BeginRequest is Begin for middleware: it returns r's session and a
// shallow copy of r whose context carries it, as r.WithContext(s.Context())
// would, but with the session and the request copy in one allocation.
// Pass the returned request to the next handler; call Release with the
// session once it has returned.
//
// Adapter API: application code never calls BeginRequest; the middleware does.
func (m *Manager) BeginRequest(r *http.Request) (*Session, *http.Request) {
	return new(requestSession).begin(m, r)
}

// requestSession holds a session and the request copy that carries it.
type requestSession struct {
	s Session
	r http.Request
}

// begin makes b, newly allocated, r's session and its request copy.
func (b *requestSession) begin(m *Manager, r *http.Request) (*Session, *http.Request) {
	s := &b.s
	s.m, s.req = m, r
	s.ctx = sessionContext{Context: r.Context(), s: s}
	b.r = *r.WithContext(&s.ctx) // inlined: the copy WithContext makes stays on the stack
	return s, &b.r
}

// BeginRequestWith is BeginRequest with room for the adapter's own
// per-request state: it returns r's session, the request copy that
// carries it, and a zero T, all three in one allocation. An adapter keeps
// there what it would otherwise take from a pool (its response writer
// wrapper, say); like the session, it is never reused for another
// request, so a handler that holds on to it past the request does not
// reach another visitor's through it (through what T points to, a
// framework's pooled context say, it still may).
//
// Adapter API: application code never calls BeginRequestWith; the middleware does.
func BeginRequestWith[T any](m *Manager, r *http.Request) (*Session, *http.Request, *T) {
	b := new(requestSessionWith[T])
	s, sr := b.begin(m, r)
	return s, sr, &b.t
}

// requestSessionWith is a requestSession with an adapter's state.
type requestSessionWith[T any] struct {
	requestSession
	t T
}

// Release ends s's request: the session drops its values, and a handler's
// goroutine that still holds it afterwards finds it empty and inert (its
// changes are never saved). The context from s.Context stays valid.
//
// Adapter API: application code never calls Release; the middleware does.
func (m *Manager) Release(s *Session) {
	s.mu.Lock()
	s.released, s.loaded = true, true
	if s.sessionState != nil {
		s.base, s.hooks, s.loadedData = nil, 0, nil
		s.changes.reset()
		if s.raw != nil {
			*s.raw = binLazy{}
		}
	}
	s.mu.Unlock()
}

// HandleError writes the response for a failed load or commit through the
// configured ErrorHandler.
//
// Adapter API: application code never calls HandleError; the middleware does.
func (m *Manager) HandleError(w http.ResponseWriter, r *http.Request, err error) {
	m.cfg.ErrorHandler(w, r, err)
}

// Logger returns the Manager's logger.
func (m *Manager) Logger() *slog.Logger { return m.cfg.Logger }

// LogError logs err, a failed load or commit of r's session, as the
// default ErrorHandler does. Adapters that answer such failures through
// their framework's error handling instead of the ErrorHandler call it, so
// that every adapter logs a store outage the same way.
//
// Adapter API: application code never calls LogError; the middleware does.
func (m *Manager) LogError(r *http.Request, err error) { logRequestError(m.cfg.Logger, r, err) }

// logRequestError is the log line of a failed load or commit. It names the
// method and path, never the token.
func logRequestError(logger *slog.Logger, r *http.Request, err error) {
	logger.LogAttrs(r.Context(), slog.LevelError, "sessionkit: request failed",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
}

// deadline returns when a session created at created expires if it is
// used at now.
func (m *Manager) deadline(created, now time.Time) time.Time {
	exp := created.Add(m.cfg.Lifetime)
	if m.cfg.IdleTimeout > 0 {
		if idle := now.Add(m.cfg.IdleTimeout); idle.Before(exp) {
			exp = idle
		}
	}
	return exp
}

// refreshDue reports whether the idle deadline of the stored session s
// should be pushed forward now. It reads the clock only when s has an
// idle deadline.
func (m *Manager) refreshDue(s *Session, now func() time.Time) bool {
	idle := m.cfg.IdleTimeout
	if idle <= 0 || !s.found {
		return false
	}
	next := m.deadline(s.created, now())
	step := time.Duration(float64(idle) * m.cfg.IdleRefreshFraction)
	return next.Sub(s.expiry) >= step
}

// load reads the session with token tok (the request's, "" if none) from
// the store; valid says whether tok is well-formed (Tokens.Valid), and
// mode whether the record may stay encoded (see Session.decodeRaw).
// s.mu is held.
func (s *Session) load(tok string, valid bool, mode loadMode) {
	m := s.m
	s.loaded = true
	now := m.cfg.Now()
	s.presented = tok != ""
	start := m.realNow(now) // the load call's deadline runs from it
	if m.client != nil {
		s.loadClient(tok, now, start)
		return
	}
	if tok != "" && valid {
		// The load is detached from the request's cancellation and
		// deadline, as the commit is (see commitStore), and bounded by
		// StoreTimeout: the load is lazy, at the handler's first use of
		// the session, and a client that went away before that must not
		// make the handler's changes fail to load and so be lost.
		key := StoreKey(tok)
		ctx, dl := m.callCtxIn(s.req.Context(), s.loadCtx, start, true)
		rec, found, err := m.cfg.Store.Load(ctx, key)
		dl.release()
		corrupt := false
		if errors.Is(err, ErrCorrupt) {
			// The store cannot read its own record: no session, not a
			// failure (a 500 on every request until the record expires).
			m.cfg.Logger.LogAttrs(s.req.Context(), slog.LevelWarn, "sessionkit: stored session discarded",
				slog.String("reason", "the store reports the record corrupt"), slog.Any("error", err))
			s.dropStale(tok)
			s.observeLoad(LoadCorrupt)
			found, err = false, nil
			corrupt = true
		}
		if err != nil {
			s.loadErr = fmt.Errorf("sessionkit: load: %w", err)
			s.observeLoad(LoadError)
			s.reset(now)
			return
		}
		if found {
			if s.adopt(tok, key, rec, true, mode, now) {
				s.observeLoad(LoadHit)
				return
			}
		} else {
			if !corrupt {
				s.observeLoad(LoadMiss)
			}
			if m.cfg.AdoptUnknownTokens && !corrupt {
				// A token whose record the store cannot read is not
				// unknown: adopting it would have the commit write over a
				// record the store may still hold (a version 0 write that
				// conflicts with it on every request until it expires);
				// it gets a new token, as in strict mode, and the record
				// is deleted (dropStale).
				s.reset(now)
				s.token, s.key = tok, key
				s.hooks |= hookInit
				return
			}
		}
	} else if tok != "" {
		s.observeLoad(LoadMiss) // malformed
	}
	s.reset(now)
	s.hooks |= hookInit
}

// adopt installs a loaded record, or reports why it cannot be used. It
// reports the outcome of a load it refuses to the Observer; the caller
// reports a hit (a client-side session may still be refused after it).
func (s *Session) adopt(tok, key string, rec Record, owned bool, mode loadMode, now time.Time) bool {
	m := s.m
	log := func(msg string, err error) {
		attrs := []slog.Attr{slog.String("reason", msg)}
		if err != nil {
			attrs = append(attrs, slog.Any("error", err))
		}
		m.cfg.Logger.LogAttrs(s.req.Context(), slog.LevelWarn, "sessionkit: stored session discarded", attrs...)
	}
	if m.cfg.MaxRecordSize > 0 && len(rec.Data) > m.cfg.MaxRecordSize {
		log("record larger than MaxRecordSize", nil)
		s.dropStale(tok)
		s.observeLoad(LoadCorrupt)
		return false
	}
	if s.raw == nil {
		mode = loadDecoded // no room to keep the record encoded
	}
	created, values, raw, err := m.decodeLoaded(rec.Data, owned, mode)
	if err != nil {
		log("record cannot be decoded", err)
		s.dropStale(tok)
		s.observeLoad(LoadCorrupt)
		return false
	}
	var retired bool
	var ipValue any
	if raw.data != nil {
		// Kept encoded (see Session.decodeRaw): only the metadata that
		// decides whether the record is usable is read now.
		_, found, whole := raw.get(retiredKey) // whole: there, as a container
		retired = found || whole
		ipValue, _, _ = raw.get(ipKey)
	} else {
		_, retired = values[retiredKey]
		ipValue = values[ipKey]
		delete(values, ipKey)
	}
	if retired {
		// A marker left by a renew: within its window the request must
		// not get a cookie that would replace the renewed one.
		s.retired = now.Before(rec.Expiry)
		s.observeLoad(LoadMiss)
		return false
	}
	if !now.Before(rec.Expiry) || !now.Before(created.Add(m.cfg.Lifetime)) {
		s.dropStale(tok)
		s.hooks |= hookExpired
		s.observeLoad(LoadExpired)
		return false
	}
	ip, _ := ipValue.(string)
	if m.cfg.BindClientIP && ip != m.cfg.ClientIP(s.req) {
		log("client address changed", nil)
		s.observeLoad(LoadMiss)
		return false
	}
	s.token, s.key, s.found = tok, key, true
	s.version, s.expiry, s.created, s.ip = rec.Version, rec.Expiry, created, ip
	s.base = values
	if owned {
		s.loadedData, s.loadedAt = rec.Data, rec.Version
	}
	if raw.data != nil {
		*s.raw = raw
	}
	return true
}

// dropStale arranges for an unusable stored record to be deleted at commit.
// Client-side sessions have no record to delete.
func (s *Session) dropStale(tok string) {
	if s.m.client == nil {
		s.drop = tok
	}
}

// loadClient opens a client-side session carried by the token itself.
// s.mu is held.
func (s *Session) loadClient(tok string, now, start time.Time) {
	m := s.m
	if tok != "" && len(tok) <= maxClientToken {
		ctx, dl := m.callCtxIn(s.req.Context(), s.loadCtx, start, true)
		id, data, exp, ok, err := m.client.Open(ctx, m.tokenName(), tok)
		dl.release()
		if err != nil {
			s.loadErr = fmt.Errorf("sessionkit: open: %w", err)
			s.observeLoad(LoadError)
			s.reset(now)
			return
		}
		if ok && s.adopt(tok, id, Record{Data: data, Expiry: exp}, false, loadDecoded, now) { // the key of a client-side session is its id
			if err := s.checkUserRevoked(); err != nil {
				s.loadErr = err
				s.observeLoad(LoadError)
				s.reset(now)
				return
			}
			if s.found {
				s.observeLoad(LoadHit)
				return
			}
			s.observeLoad(LoadMiss) // ended by EndUserSessions
		}
		if !ok && m.retirer != nil {
			// Only a refused token costs this call: was it retired by a
			// renew moments ago (Config.RenewGrace)?
			ctx, dl := m.callCtx(s.req.Context())
			until, err := m.retirer.Retired(ctx, m.tokenName(), tok)
			dl.release()
			if err != nil {
				s.loadErr = fmt.Errorf("sessionkit: open: %w", err)
				s.observeLoad(LoadError)
				s.reset(now)
				return
			}
			s.retired = now.Before(until)
		}
		if !ok {
			s.observeLoad(LoadMiss)
		}
	} else if tok != "" {
		s.observeLoad(LoadMiss) // longer than any browser sends
	}
	s.reset(now)
	s.hooks |= hookInit
}

// maxClientToken bounds the client-side token the core passes to Open:
// no browser sends a longer cookie.
const maxClientToken = 4096

// tokenName is the name the token travels under: the cookie or header name.
func (m *Manager) tokenName() string {
	if m.cfg.Header != "" {
		return m.cfg.Header
	}
	return m.cfg.Cookie.Name
}
