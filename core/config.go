package core

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// Config configures a Manager. The zero value of every field but Store
// selects the documented default; New validates and normalises it once.
type Config struct {
	// Store keeps the session records on the server. Exactly one of Store
	// and ClientStore is required.
	Store Store

	// ClientStore keeps each session inside its token, sealed, instead of on
	// the server (see stores/cookie). Exactly one of Store and ClientStore
	// is required.
	ClientStore ClientStore

	// Cookie is the template of the session cookie. Name defaults to
	// "session", Path to "/", SameSite to http.SameSiteLaxMode. Domain,
	// Secure and Partitioned are used as given (default: host-only, not
	// Secure, not partitioned). HttpOnly is always set. MaxAge, when
	// positive, caps the cookie's Max-Age in seconds (at most 400 days, the
	// browsers' cap); Value, Expires, Raw and Unparsed are ignored.
	Cookie http.Cookie

	// BrowserSessionCookie, when true, sends a cookie without Max-Age that
	// the browser forgets when it closes. The default (false) sends a
	// persistent cookie whose Max-Age follows the session's expiry.
	BrowserSessionCookie bool

	// Lifetime is the absolute lifetime of a session, counted from its
	// creation and never extended. Default: 24 hours.
	Lifetime time.Duration

	// IdleTimeout ends a session that has not been used for this long.
	// "Used" means a request that read or wrote the session. Default: 0,
	// no idle timeout.
	IdleTimeout time.Duration

	// IdleRefreshFraction sets how often the idle deadline is pushed
	// forward for a session that is read but not changed: at most once per
	// IdleRefreshFraction*IdleTimeout, so a busy session is not rewritten
	// on every request. The refresh is a compare-and-swap of the record as
	// loaded when the store has one and RenewGrace is on (a read in flight
	// across a login must fail on the retired marker the Renew left, not
	// extend it), otherwise a Touch when the store can (without rewriting
	// the data). Must be in (0, 1]. Default: 0.1.
	IdleRefreshFraction float64

	// ManualSave turns autosave off: changes to values are stored only
	// when the handler calls Session.Save. Renew and Destroy act either
	// way. Default: false (changes are saved automatically just before
	// the response header is sent).
	ManualSave bool

	// AdoptUnknownTokens turns strict mode off: a well-formed token that
	// the store does not know is then adopted for the new session instead of
	// being replaced by a freshly issued one. Adopting client-chosen tokens
	// enables session fixation; leave it off unless another system issues
	// the tokens. A token whose record the store reports corrupt
	// (ErrCorrupt) is not adopted: it is replaced, as in strict mode.
	// Default: false (strict mode).
	AdoptUnknownTokens bool

	// Init, when set, is called for every new session before the handler
	// sees it, to give it initial values: it receives a session of its own
	// whose values (Set, Delete) become the new session's, and the
	// request's other goroutines wait until it returns. Values set by Init
	// do not count as changes: a request that only reads an initialised
	// session stores nothing.
	Init func(s *Session)

	// BindClientIP ties a session to the client address it was created
	// from: a token presented from another address loads as a new session.
	// Default: false. Behind a proxy, set ClientIP too.
	BindClientIP bool

	// ClientIP returns the client address used by BindClientIP. Default:
	// the host part of Request.RemoteAddr.
	ClientIP func(r *http.Request) string

	// RecordClientInfo, when true, stores with every new session the
	// request's User-Agent (at most 256 bytes) and client address (see
	// ClientIP) as they were when the session was first written, for
	// Manager.UserSessions to show ("Firefox on Linux, 192.0.2.7").
	// Privacy: both are personal data under laws such as the GDPR; they
	// then sit in every record (and, for client-side sessions, in the
	// sealed cookie) for the session's lifetime. Turn it on only when
	// the application shows them to the user and says so in its privacy
	// notice. Default: false (nothing recorded).
	RecordClientInfo bool

	// Codec encodes session records. Default: BinaryCodec{}.
	Codec Codec

	// MaxRecordSize bounds an encoded record in bytes: a larger stored
	// record loads as a new session (with a log line), and saving a larger
	// one is an error wrapping ErrTooLarge. Default: 1 MiB. Negative: no
	// limit.
	MaxRecordSize int

	// Tokens issues and validates session tokens. Default: RandomTokens{}
	// (256 random bits, base64url), validating with the ClientStore's Valid
	// when it implements TokenValidator (it recognises sealed tokens).
	Tokens TokenGenerator

	// SigningKeys, when set, signs the token the client holds: the cookie
	// (or header) value becomes token "." base64url(HMAC-SHA256(key, name
	// "=" token)), signed with the first key and verified in constant time
	// against every key, so keys can be rotated by putting the new one
	// first. A value whose signature does not verify is no session, without
	// a store call. Each key must be at least MinSigningKeySize bytes.
	// Default: nil, unsigned tokens (which are already unguessable; signing
	// adds a second secret that a leaked store cannot forge tokens without).
	SigningKeys [][]byte

	// Header, when set (for example "X-Session-Token"), moves the token from
	// the cookie to this request header, for API clients; the response
	// carries a new or changed token in the same header, and an empty value
	// when the session was destroyed. Default: "" (cookie transport).
	Header string

	// ErrorHandler writes the response when loading or saving the session
	// fails before the response header was sent. Default: logs the error
	// and replies 500 Internal Server Error.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// OnExpired, when set, is called when a request presents the token of a
	// session that has expired, with the new session that replaces it (for
	// example to add a flash saying the user was logged out). It runs during
	// the lazy load, on the handler's goroutine.
	OnExpired func(r *http.Request, s *Session)

	// Logger receives the library's log lines. Tokens are never logged.
	// Default: slog.Default().
	Logger *slog.Logger

	// Now is the clock. Default: time.Now. Tests inject their own.
	Now func() time.Time

	// StoreTimeout bounds every single store call the core makes (Load,
	// Save, CompareAndSwap, Touch, Delete, and the claim of Flashes; Open,
	// Seal and Revoke of a ClientStore): a call still running after it
	// is cancelled, and the request fails with an error wrapping
	// context.DeadlineExceeded through the ErrorHandler. A hung backend
	// thus costs a request at most this long per call. Default: 5 seconds.
	// Must not be negative.
	StoreTimeout time.Duration

	// CommitTimeout bounds a whole commit, including its compare-and-swap
	// retries and the wait for other commits to the same session in this
	// process. The commit runs on a context detached from the request's
	// cancellation, so a client that disconnects before the response
	// header does not lose what its request changed (the load is detached
	// too, and bounded by StoreTimeout, so that this holds when the
	// handler first touches the session after the disconnect). Default:
	// 10 seconds.
	// Must not be negative.
	CommitTimeout time.Duration

	// RenewGrace is how long a token retired by Renew is remembered: the
	// record under it is replaced (in the same single write that would
	// have deleted it) by a small marker that holds no session data and
	// expires after RenewGrace. A request that presents the retired token
	// within the window, such as one the browser sent in parallel with
	// the login, sees an empty new session, gets no cookie (nor token
	// header), so it cannot replace the renewed cookie and log the user
	// out, and its changes are dropped with a log line. After the window
	// the token is simply unknown. Destroy is not affected: its record is
	// deleted. Client-side sessions (ClientStore) have no record to mark:
	// the same protection needs a ClientStore that implements
	// RetiringClientStore, which the core then asks to retire the old
	// session id instead of revoking it (stores/cookie does with a
	// revocation list, and only with one). Default: 30 seconds.
	// Negative: off, the old record is deleted (the old id revoked).
	RenewGrace time.Duration

	// Observer, when set, receives the events of the session life cycle
	// and of every store call, for metrics and traces (see Observer and
	// the otelsession module). Default: nil, no events, at no cost.
	Observer Observer

	signer *signer // built from SigningKeys by normalize
}

// Defaults and limits applied by New.
const (
	DefaultCookieName          = "session"
	DefaultLifetime            = 24 * time.Hour
	DefaultIdleRefreshFraction = 0.1
	DefaultMaxRecordSize       = 1 << 20
	DefaultStoreTimeout        = 5 * time.Second
	DefaultCommitTimeout       = 10 * time.Second
	DefaultRenewGrace          = 30 * time.Second
	// MaxCookieAge is the longest Max-Age browsers honour (RFC 6265bis).
	MaxCookieAge = 400 * 24 * time.Hour
)

// ErrConfig is wrapped by every configuration error New returns.
var ErrConfig = errors.New("sessionkit: invalid config")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// normalize fills in defaults and validates c.
func (c *Config) normalize() error {
	if (c.Store == nil) == (c.ClientStore == nil) {
		return configErr("exactly one of Store and ClientStore is required")
	}
	ck := &c.Cookie
	if ck.Name == "" {
		ck.Name = DefaultCookieName
	}
	if !validCookieName(ck.Name) {
		return configErr("cookie name %q is not a valid token", ck.Name)
	}
	if ck.Path == "" {
		ck.Path = "/"
	}
	if ck.SameSite == 0 || ck.SameSite == http.SameSiteDefaultMode {
		ck.SameSite = http.SameSiteLaxMode
	}
	ck.HttpOnly = true
	ck.Value, ck.Expires, ck.Raw, ck.RawExpires, ck.Unparsed = "", time.Time{}, "", "", nil
	if ck.SameSite == http.SameSiteNoneMode && !ck.Secure {
		return configErr("SameSite=None requires Secure")
	}
	if ck.Partitioned && !ck.Secure {
		return configErr("Partitioned requires Secure")
	}
	// Browsers match the prefixes case-insensitively (RFC 6265bis) and
	// drop a cookie that breaks their rules: reject it here instead.
	if hasPrefixFold(ck.Name, "__Secure-") && !ck.Secure {
		return configErr("a __Secure- cookie requires Secure")
	}
	if hasPrefixFold(ck.Name, "__Host-") {
		if !ck.Secure || ck.Domain != "" || ck.Path != "/" {
			return configErr("a __Host- cookie requires Secure, Path=/ and no Domain")
		}
	}
	if ck.MaxAge < 0 || time.Duration(ck.MaxAge)*time.Second > MaxCookieAge {
		return configErr("cookie MaxAge %d is outside 0..%d seconds", ck.MaxAge, int(MaxCookieAge/time.Second))
	}
	if c.Lifetime == 0 {
		c.Lifetime = DefaultLifetime
	}
	if c.Lifetime < 0 || c.IdleTimeout < 0 {
		return configErr("Lifetime and IdleTimeout must not be negative")
	}
	if c.IdleRefreshFraction == 0 {
		c.IdleRefreshFraction = DefaultIdleRefreshFraction
	}
	if c.IdleRefreshFraction <= 0 || c.IdleRefreshFraction > 1 {
		return configErr("IdleRefreshFraction %v is outside (0, 1]", c.IdleRefreshFraction)
	}
	if c.ClientIP == nil {
		c.ClientIP = remoteHost
	}
	if c.Codec == nil {
		c.Codec = BinaryCodec{}
	}
	if c.MaxRecordSize == 0 {
		c.MaxRecordSize = DefaultMaxRecordSize
	}
	if c.Tokens == nil {
		c.Tokens = RandomTokens{}
		if v, ok := c.ClientStore.(TokenValidator); ok {
			c.Tokens = sealedTokens{TokenValidator: v} // it knows what its sealed tokens look like
		}
	}
	if c.Header != "" {
		if !validCookieName(c.Header) {
			return configErr("header name %q is not a valid token", c.Header)
		}
		c.Header = textproto.CanonicalMIMEHeaderKey(c.Header)
	}
	if c.SigningKeys != nil {
		if len(c.SigningKeys) == 0 {
			return configErr("SigningKeys is empty; leave it nil to turn signing off")
		}
		for i, k := range c.SigningKeys {
			if len(k) < MinSigningKeySize {
				return configErr("signing key %d is %d bytes, want at least %d", i, len(k), MinSigningKeySize)
			}
		}
		name := ck.Name
		if c.Header != "" {
			name = c.Header
		}
		c.signer = newSigner(name, c.SigningKeys)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ErrorHandler == nil {
		logger := c.Logger
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			logRequestError(logger, r, err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = DefaultStoreTimeout
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	if c.StoreTimeout < 0 || c.CommitTimeout < 0 {
		return configErr("StoreTimeout and CommitTimeout must not be negative")
	}
	if c.RenewGrace == 0 {
		c.RenewGrace = DefaultRenewGrace
	}
	return nil
}

// validCookieName reports whether s is an RFC 7230 token, as cookie and
// header names must be.
func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether s begins with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func remoteHost(r *http.Request) string {
	addr := r.RemoteAddr
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && !strings.HasSuffix(addr, "]") {
		addr = addr[:i]
	}
	return strings.Trim(addr, "[]")
}
