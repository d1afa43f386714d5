package core

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Session is the state of one visitor's session during one request.
//
// The session is loaded lazily: the store is first asked when a method that
// needs the data is called, so a handler that never touches its session costs
// no store round trip. Methods do no other I/O (except Flashes, which
// claims its messages from the store), never return errors (see Err)
// and are safe for concurrent use by goroutines serving the same request.
// After its request has finished the adapter releases it: a goroutine that
// still holds it then finds it empty, and its changes are never saved.
type Session struct {
	m   *Manager
	req *http.Request
	ctx sessionContext

	mu       sync.Mutex
	released bool // the request ended; see Manager.Release
	loaded   bool
	touched  atomic.Bool // sessionState is set: lets Commit pass an untouched session without locking
	vary     [1]string   // backing array of the Vary value Commit adds

	// The rest of the session lives in its own allocation, made when the
	// session is first locked (s.mu held): a request whose handler never
	// touches its session allocates only the small part above, together
	// with the request copy that carries it (Manager.BeginRequest). Fields
	// are promoted, so s.base is s.sessionState.base.
	*sessionState
}

// sessionState is the state of a touched session. Only lock (and the
// methods that run with s.mu held after it) reach it; see Session.
type sessionState struct {
	loadErr error
	hooks   uint8 // pending Init / OnExpired calls, run outside mu

	token      string // current token; "" until one is issued
	key        string // store key of token
	presented  bool   // the client sent a token, valid or not
	found      bool   // a live record exists under key
	retired    bool   // the token was retired by a renew moments ago (Config.RenewGrace)
	version    uint64
	loadedData []byte    // the record's data as Load returned it, at loadedAt (see oldData)
	loadedAt   uint64    // the version of loadedData
	expiry     time.Time // record expiry as loaded or last written
	created    time.Time
	ip         string

	base    map[string]any // loaded or initial values; owned by this session (Commit merges changes into it)
	raw     *binLazy       // in loadingState and freshState; when raw.data is set, the record loaded or last written, whose values base does not hold yet (see decodeRaw)
	changes changeSet      // this request's changes: the new value, or deleted
	cleared bool

	renew       bool
	destroyed   bool      // Destroy was called: expire the cookie unless a new session is saved
	drop        string    // token whose record ends at commit (client-side: session id to revoke)
	dropUntil   time.Time // when the dropped token would have expired
	dropRetire  bool      // drop was retired by Renew: mark it (retire a client-side id) rather than delete it (revoke it)
	dropDestroy bool      // drop was set by Destroy (for Observer.SessionDestroyed)
	saveReq     bool      // Save was called (manual mode)
	flashSeq    uint32    // orders the flash messages added in this request
	hdr         [2]string // backing array of the header values Commit adds (hdrSetCookie, ...)

	loadCtx *deadlineCtx // the deadline of the load's store call, in the state's allocation (see newState); nil without a token
}

// loadingState is the state of a session whose request presents a token,
// with the deadline of its load's store call in the same allocation.
type loadingState struct {
	sessionState
	dc  deadlineCtx
	raw binLazy
}

// freshState is the state of a session whose request presents no token,
// with room for the record its first write keeps encoded (see
// Session.encodableNew).
type freshState struct {
	sessionState
	raw binLazy
}

// newState returns the state of a session that is first touched;
// presented says whether its request carries a token to load.
func newState(presented bool) *sessionState {
	if presented {
		st := new(loadingState)
		st.loadCtx, st.sessionState.raw = &st.dc, &st.raw
		return &st.sessionState
	}
	st := new(freshState)
	st.sessionState.raw = &st.raw
	return &st.sessionState
}

// Indexes into Session.hdr: the header values Commit adds live in the
// session's own allocation (Vary in Session.vary), so adding them
// allocates nothing and no slice is shared between responses.
const (
	hdrSetCookie = iota
	hdrCacheControl
)

// deletion is the type of deleted, the value s.changes holds for a key
// the request deleted. Unexported, so no application value is one.
type deletion struct{}

// deleted marks a deleted key in s.changes (a zero-size value: storing it
// allocates nothing).
var deleted any = deletion{}

// isDeleted reports whether v, a value of s.changes, marks a deletion.
func isDeleted(v any) bool {
	_, del := v.(deletion)
	return del
}

const (
	hookInit uint8 = 1 << iota
	hookExpired
)

// oldData returns the record's data as the request loaded it when the
// record is still at that version (no write of this request has moved it
// on), or nil: Renewal.OldData. s.mu is held.
func (s *Session) oldData() []byte {
	if s.version != s.loadedAt {
		return nil
	}
	return s.loadedData
}

// lock locks s, loading it first if needed, with its values decoded.
func (s *Session) lock() {
	s.lockFor(loadDecoded)
	_ = s.decodeRaw() // a failure is s.loadErr, which Commit returns
}

// loadMode says how a load may keep the record it loads (see
// Session.decodeRaw).
type loadMode uint8

const (
	// loadDecoded decodes the record's values at once: for a method that
	// needs them all.
	loadDecoded loadMode = iota
	// loadEncoded keeps the record encoded: for get's readers (Get,
	// Value), which read a few values.
	loadEncoded
	// loadPlain keeps a plain record (see binPlainEntries) encoded and
	// decodes any other at once: for Set and Delete, whose changes a
	// commit writes into a plain record without decoding it.
	loadPlain
)

// maxRawGets bounds the values get decodes one at a time from a record
// kept encoded (each looks its key up from the record's start): a
// request that reads more decodes them all at once.
const maxRawGets = 4

// decodeRaw decodes the values of a record kept encoded (s.raw) into
// s.base. s.mu is held.
//
// A loaded record is kept encoded until a method needs its values: get
// reads up to maxRawGets of them from it one at a time; Set and Delete
// only record changes; and lock (every other method) and a refresh that
// rewrites the record call decodeRaw first, so that every other reader
// of s.base finds it complete. A session with a Renew, a Destroy or
// changes to metadata therefore never has raw: they all go through lock.
// A commit writes the changes of Set and Delete into a plain record
// without decoding it (see writableInPlace), and decodes any other
// first. Only a server-side store's record is kept encoded (see
// decodeLoaded).
func (s *Session) decodeRaw() error {
	if !s.raw.pending() {
		return nil
	}
	_, values, err := decodeBinary(s.raw.data, true)
	*s.raw = binLazy{}
	if err != nil {
		// openBinaryLazy checked the record as decodeBinary does, so
		// only a bug gets here. The commit fails (loadErr) rather than
		// write the session without its values.
		s.loadErr = fmt.Errorf("sessionkit: load: decoding the record again: %w", err)
		values = map[string]any{}
	}
	delete(values, ipKey)
	s.base = values
	return s.loadErr
}

// writableInPlace reports whether this request's changes can be written
// into the record kept encoded without decoding it (binLazy.merge): the
// record is plain (binPlainEntries); the changes are deletions and
// scalar values (see scalarValue), none of them metadata; and the session
// keeps its token. s.mu is held.
//
// After such a write the session reads its values from the record
// written, so a value it set must decode to exactly the value it was:
// true of scalars, not of a time.Time (its zone's name is not stored), a
// slice or map (a copy, not the one set) or a gob value. The methods that
// clear the values, change metadata or ask for a new token all decode
// the record first (lock): those conditions guard merge's contract.
func (s *Session) writableInPlace(newToken bool) bool {
	return s.raw.pending() && !newToken && !s.cleared && s.scalarChanges() && s.raw.plain()
}

// encodableNew reports whether the first record of a new session can be
// encoded straight from this request's changes, as binLazy.merge writes
// them into a record of no entries, instead of from a map of its values:
// the Manager allows it (Manager.encodesNew), the session has no record,
// no initial values and no public id (base is nil), and its changes meet
// writableInPlace's terms. After the write the session keeps the record
// encoded, as a loaded one does. s.mu is held.
func (s *Session) encodableNew() bool {
	return s.m.encodesNew && s.raw != nil && !s.raw.pending() && !s.found && s.base == nil && !s.cleared && s.scalarChanges()
}

// scalarChanges reports whether this request's changes are deletions and
// scalar values (see scalarValue), none of them metadata: what a write
// into a record kept encoded can take (see writableInPlace). s.mu is held.
func (s *Session) scalarChanges() bool {
	for _, c := range s.changes.list {
		if ReservedKey(c.key) || !scalarValue(c.v) {
			return false
		}
	}
	return true
}

// scalarValue reports whether v is a deletion (see deleted) or a value
// that BinaryCodec decodes to exactly v: nil, a string, a bool, or a
// number of a built-in type.
func scalarValue(v any) bool {
	switch v.(type) {
	case nil, deletion, string, bool, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64, float32, float64:
		return true
	}
	return false
}

// lockFor locks s as lock does. A load keeps the record's values
// encoded as mode says (see Session.decodeRaw); with loadDecoded (lock:
// a method that needs them all) it decodes them at once, rather than
// check the record twice.
func (s *Session) lockFor(mode loadMode) {
	s.mu.Lock()
	// The load and the hooks run code that is not the core's (the
	// store, Config.Init and ClientIP, a Codec, the Observer). If it
	// panics, s.mu must not stay locked: the adapter's deferred Release,
	// or the Commit after a recovery middleware inside the session's,
	// would wait for it forever, and the request with them.
	unlockOnPanic := true // false while the hooks run unlocked, and once done
	defer func() {
		if unlockOnPanic {
			s.mu.Unlock()
		}
	}()
	if !s.loaded {
		tok, valid := s.m.readToken(s.req)
		if s.sessionState == nil {
			s.sessionState = newState(tok != "")
			s.touched.Store(true)
		}
		s.load(tok, valid, mode)
	} else if s.sessionState == nil {
		s.sessionState = newState(false)
		s.touched.Store(true)
	}
	for s.hooks != 0 {
		if s.hooks&hookInit != 0 {
			// Init runs with s.mu held, on a detached session, so that
			// other goroutines of the request wait for the initial values
			// and none of their own changes is taken for one.
			s.hooks &^= hookInit
			s.runInit()
			continue
		}
		h := s.hooks
		s.hooks = 0
		unlockOnPanic = false
		s.mu.Unlock()
		s.runHooks(h)
		s.mu.Lock()
		unlockOnPanic = true
	}
	unlockOnPanic = false
}

// runInit calls Config.Init with a detached session and installs what it
// set as the initial values, which do not count as changes. s.mu is held.
func (s *Session) runInit() {
	if s.m.cfg.Init == nil {
		return
	}
	d := &Session{m: s.m, req: s.req, loaded: true, sessionState: &sessionState{created: s.created}}
	d.touched.Store(true)
	d.ctx = sessionContext{Context: s.req.Context(), s: d}
	s.m.cfg.Init(d)
	d.mu.Lock()
	vals := d.mergeIntoBase()
	d.mu.Unlock()
	if len(vals) == 0 {
		return
	}
	if s.base == nil {
		s.base = vals // a new map (see mergeIntoBase); d is dropped
		return
	}
	for k, v := range vals {
		s.base[k] = v
	}
}

func (s *Session) runHooks(h uint8) {
	cfg := &s.m.cfg
	if h&hookExpired != 0 && cfg.OnExpired != nil {
		cfg.OnExpired(s.req, s)
	}
}

// Get returns the value stored under key and whether it was there.
func (s *Session) Get(key string) (any, bool) {
	s.lockFor(loadEncoded)
	defer s.mu.Unlock()
	return s.get(key)
}

func (s *Session) get(key string) (any, bool) {
	if ReservedKey(key) {
		return nil, false // the core's metadata is not a value
	}
	if c, ok := s.changes.get(key); ok {
		if isDeleted(c) {
			return nil, false
		}
		return c, true
	}
	if s.cleared {
		return nil, false
	}
	if s.raw.pending() {
		if s.raw.gets < maxRawGets {
			if v, ok, whole := s.raw.get(key); !whole {
				s.raw.gets++
				return v, ok
			}
		}
		_ = s.decodeRaw() // a failure is s.loadErr, which Commit returns
	}
	v, ok := s.base[key]
	return v, ok
}

// Set stores v under key. v must be a type the Manager's codec can encode
// (see BinaryCodec); an unsupported value makes the commit fail. Set
// panics when key begins with a NUL byte (see ReservedKey): those keys
// hold the core's own metadata, which no application key may overwrite.
func (s *Session) Set(key string, v any) {
	if ReservedKey(key) {
		panic(fmt.Sprintf("sessionkit: Session.Set: key %q is reserved for the core's metadata (it begins with a NUL byte)", key))
	}
	s.lockFor(loadPlain)
	defer s.mu.Unlock()
	s.changes.set(key, v)
}

// Delete removes key. Deleting a missing key changes nothing.
func (s *Session) Delete(key string) {
	s.lockFor(loadPlain)
	defer s.mu.Unlock()
	s.del(key)
}

func (s *Session) del(key string) {
	if _, ok := s.get(key); !ok {
		return
	}
	s.changes.set(key, deleted)
}

// Pop returns the value under key and removes it. The removal is a change
// like Delete, stored when the request commits: unlike Flashes, Pop claims
// nothing at once, so concurrent requests may each get the value. Use
// AddFlash and Flashes for a message that must be shown exactly once.
func (s *Session) Pop(key string) (any, bool) {
	s.lock()
	defer s.mu.Unlock()
	v, ok := s.get(key)
	if ok {
		s.del(key)
	}
	return v, ok
}

// Clear removes every value. The session itself and its token remain, and
// so do its pending flash messages (see Flashes). Clear is a change of
// every key: when the request commits, the record loses every value it
// holds then, those a concurrent request stored after this one loaded the
// session included (for each key the last commit wins, and Clear's commit
// changes them all).
func (s *Session) Clear() {
	s.lock()
	defer s.mu.Unlock()
	if len(s.keys()) == 0 {
		return
	}
	s.cleared = true
	s.changes.filter(func(k string, _ any) bool { return ReservedKey(k) })
}

// Keys returns the keys of the session's values, sorted.
func (s *Session) Keys() []string {
	s.lock()
	defer s.mu.Unlock()
	return s.keys()
}

func (s *Session) keys() []string {
	var keys []string
	if !s.cleared {
		for k := range s.base {
			if !s.changes.has(k) && !ReservedKey(k) {
				keys = append(keys, k)
			}
		}
	}
	for _, c := range s.changes.list {
		if !isDeleted(c.v) && !ReservedKey(c.key) {
			keys = append(keys, c.key)
		}
	}
	slices.Sort(keys)
	return keys
}

// Len returns the number of values in the session.
func (s *Session) Len() int {
	return len(s.Keys())
}

// Renew gives the session a new token at commit, keeping its values, and
// ends the record stored under the old token, so a token captured before
// the call (before login, say) loads nothing afterwards. For
// Config.RenewGrace the old record is a marker that makes requests still
// carrying the old token harmless: they get no cookie and their changes
// are dropped. Call it whenever the privilege level changes: at login,
// logout-to-anonymous, sudo.
func (s *Session) Renew() {
	s.lock()
	defer s.mu.Unlock()
	s.renew = true
}

// Destroy ends the session: at commit its record is deleted and the cookie
// expired, which also takes it out of its user's sessions (see SetUser).
// Values set after Destroy start a new session with a new token and a new
// ID.
func (s *Session) Destroy() {
	s.lock()
	if s.found {
		s.drop, s.dropUntil = s.token, s.expiry
		if s.m.client != nil {
			s.drop = s.key // client-side: revoke the session id, all its tokens
		}
		s.dropDestroy = true
	}
	s.destroyed = true
	s.reset(s.m.cfg.Now())
	s.hooks |= hookInit
	s.mu.Unlock()
	s.lock() // runs Init for the fresh session
	s.mu.Unlock()
}

// reset turns s into a new, empty session created at now.
func (s *Session) reset(now time.Time) {
	s.token, s.key, s.found, s.version, s.ip = "", "", false, 0, ""
	s.loadedData, s.loadedAt = nil, 0
	s.created = now
	s.expiry = time.Time{}
	s.base = nil
	if s.raw != nil {
		*s.raw = binLazy{}
	}
	s.changes.reset()
	s.cleared, s.renew, s.saveReq = false, false, false
}

// Revert undoes the changes to values made during this request and a pending
// Renew, returning the session to the state it was loaded in. It does not
// undo Destroy.
func (s *Session) Revert() {
	s.lock()
	defer s.mu.Unlock()
	s.changes.reset()
	s.cleared, s.renew, s.saveReq = false, false, false
}

// Save marks the session for saving at commit. It is needed only when the
// Manager's ManualSave is set; with autosave it changes nothing.
func (s *Session) Save() {
	s.lock()
	defer s.mu.Unlock()
	s.saveReq = true
}

// IsNew reports whether the session has no stored record yet: the client
// sent no token, or one that is unknown, expired or malformed.
func (s *Session) IsNew() bool {
	s.lock()
	defer s.mu.Unlock()
	return !s.found
}

// Modified reports whether this request changed the session: a value set,
// deleted or cleared, a Renew or a Destroy. It does not load the session.
func (s *Session) Modified() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modified()
}

func (s *Session) modified() bool {
	if s.sessionState == nil {
		return false // never touched
	}
	return s.changes.len() != 0 || s.cleared || s.renew || s.drop != ""
}

// Deadline returns when the session will expire if it is not used again:
// the earlier of its absolute and idle deadlines, as of the end of this
// request.
func (s *Session) Deadline() time.Time {
	s.lock()
	defer s.mu.Unlock()
	if s.found && !s.modified() && !s.m.refreshDue(s, s.m.cfg.Now) {
		return s.expiry
	}
	return s.m.deadline(s.created, s.m.cfg.Now())
}

// CreatedAt returns when the session was created.
func (s *Session) CreatedAt() time.Time {
	s.lock()
	defer s.mu.Unlock()
	return s.created
}

// Err returns the error that loading the session met, if any. A session
// that failed to load behaves as empty, and the request fails at commit
// through the Manager's error handler; handlers that must not act on an
// unloaded session check Err first.
func (s *Session) Err() error {
	s.lock()
	defer s.mu.Unlock()
	return s.loadErr
}

// Context returns a context derived from the request's that carries the
// session, for FromContext. Adapters install it in the request.
func (s *Session) Context() context.Context {
	return &s.ctx
}

// mergedLen returns how many values the session holds with this request's
// changes applied, without building that map. s.mu is held.
func (s *Session) mergedLen() int {
	n := len(s.base)
	if s.cleared {
		n = reservedLen(s.base)
	}
	for _, c := range s.changes.list {
		_, had := s.base[c.key]
		had = had && (!s.cleared || ReservedKey(c.key))
		switch del := isDeleted(c.v); {
		case del && had:
			n--
		case !del && !had:
			n++
		}
	}
	return n
}

// mergeIntoBase applies this request's changes to s.base itself, which the
// session owns (it was decoded for this request), and returns it: the
// values to store, without the copy merged makes. s.mu is held; Commit
// calls it once it has decided to write, and runInit on the detached
// session Config.Init filled.
//
// A session with no base (no record, no initial values, no public id yet)
// whose changes Session.encodableNew refuses gets a new map of its
// changes, less the deletions, which becomes its base only when the
// write succeeds (one it accepts is written from its changes and keeps
// no map at all): a failed commit leaves such a
// session with its changes and no base, so Revert returns it to its empty
// start. A session with a base has its changes merged into it here, so
// after a failed commit Revert empties its changes but not what the merge
// put into the base, as for a loaded session.
func (s *Session) mergeIntoBase() map[string]any {
	if s.base == nil && !s.found {
		return applyChanges(nil, false, s.changes.list)
	}
	if s.base == nil {
		s.base = make(map[string]any, s.changes.len())
	} else if s.cleared {
		clearValues(s.base)
	}
	for _, c := range s.changes.list {
		if isDeleted(c.v) {
			delete(s.base, c.key)
		} else {
			s.base[c.key] = c.v
		}
	}
	return s.base
}

// applyChanges returns base with changes applied, in a new map (base
// itself when there is nothing to apply); with cleared, base's values
// other than the core's metadata are left out first.
func applyChanges(base map[string]any, cleared bool, changes []change) map[string]any {
	if !cleared && len(changes) == 0 {
		return base
	}
	out := make(map[string]any, len(changes)+len(base))
	for k, v := range base {
		if !cleared || ReservedKey(k) {
			out[k] = v
		}
	}
	for _, c := range changes {
		if isDeleted(c.v) {
			delete(out, c.key)
		} else {
			out[c.key] = c.v
		}
	}
	return out
}

// clearValues deletes the application's values from m, keeping the core's
// metadata (pending flash messages).
func clearValues(m map[string]any) {
	for k := range m {
		if !ReservedKey(k) {
			delete(m, k)
		}
	}
}

// reservedLen counts the core's metadata entries in m.
func reservedLen(m map[string]any) int {
	n := 0
	for k := range m {
		if ReservedKey(k) {
			n++
		}
	}
	return n
}
