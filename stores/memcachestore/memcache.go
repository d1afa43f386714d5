// Package memcachestore is a sessionkit store on memcached, through
// github.com/bradfitz/gomemcache.
//
// One client may spread sessions over many servers (memcache.New(addrs...)
// or its ServerList): each key lives on the server its hash picks. Each
// session is one item under KeyPrefix + key whose value is a 17-byte header
// (format, version, exact expiry; 49 bytes with the hash of the user the
// record is filed under) followed by the encoded session. The
// server-side expiration is set from the expiry, rounded up to memcached's
// second, and sent as an absolute Unix time when it is more than 30 days
// away (memcached reads larger relative values as absolute times); Load
// still reports the exact expiry from the header and treats a passed expiry
// as not found.
//
// Round trips: Load (gets), Save (set) and Delete are one round trip each.
// CompareAndSwap of the version that this store loaded moments ago is one
// round trip too: Load's gets also returns memcached's CAS id, which the
// store remembers (in a small fixed table, per key and version), and the
// swap sends cas with it at once, so an update through the core costs two
// round trips in all. Otherwise (another process loaded the record, or the
// cas lost to a write that kept the version, such as a Touch) it takes two:
// a gets that checks the version in the header and fetches the CAS id, then
// a cas. gomemcache does not report the CAS id that a store assigns, so
// memcached's CAS ids cannot serve as the record version; the store keeps
// its own random version in the header instead. Version zero is one round
// trip (add). Touch is two round trips (gets, then cas): memcached's touch
// would change only the server-side expiration, not the expiry in the
// header that Load reports, so Touch rewrites the item with the new header,
// keeping its data and version; when a concurrent write intervenes it
// returns an error wrapping core.ErrConflict instead of retrying, because
// that write already extended the record.
//
// A renew (a login) costs two round trips: the load, then the successor's
// add and the old record's cas to the retired marker, sent at once on two
// connections (core.Renewer; see Store.Renew). memcached has no operation
// over two keys, so the two writes are not one atomic step: when one of
// them fails, the store takes the other back (a delete, or a get and a
// cas that put the old record back), which costs those round trips more.
// A renew that files the session under a user (Session.SetUser) takes the
// core's separate steps instead.
//
// memcached cannot list its keys, so the store offers no core.Iterator;
// it expires items itself, so there is no DeleteExpired either.
//
// # A user's sessions: best effort
//
// The store implements core.UserIndexer with list items per user (see
// CompareAndSwapUser and UserKeys for its layout and costs). memcached is a
// cache, and the lists are only as reliable as a cache:
//
//   - memcached may evict a user's list (when it runs short of memory, on
//     a restart, on a flush) or lose it with its server. The user's
//     sessions filed before are then missing from UserKeys, and so from
//     Manager.UserSessions and Manager.EndUserSessions ("log out
//     everywhere" leaves them logged in), until each is filed again by its
//     next CompareAndSwapUser (the core calls it when the user changes or
//     a renew moves the session to a new key, not on every write). The
//     sessions themselves are unaffected.
//   - memcached may evict a record: that session ends (as it always could
//     with this store) and its entry is dropped at the next list update or
//     UserKeys.
//   - The record and the list are separate items, written one after the
//     other: CompareAndSwapUser lists the key before it writes the record
//     (and writes the list again after it), so a record is never filed
//     without being listed; a failure after the listing leaves an entry
//     whose record is not filed under the user, which UserKeys skips and
//     prunes.
//   - Each of a user's 16 list items holds at most (MaxItemSize-1)/40
//     sessions (about 26 000; sessions spread over the items by key); past
//     that the entries with the earliest until are dropped.
//   - Save does not read the record it replaces, so a record it writes
//     counts as filed under the user whose list holds its key. A key is a
//     hash of a fresh random token, so a saved record is only ever on the
//     list of the user its earlier versions were filed under.
//
// What cannot go wrong: UserKeys never returns a key past its until, whose
// record is gone, or that is filed under another user (it reads every
// listed record), and a list never outlives its latest until by more than
// memcached's expiry rounding (two seconds). For "log out everywhere" that
// must hold after evictions, use a store that keeps its data (Redis,
// PostgreSQL, MySQL, SQLite).
//
// # Timeouts and contexts
//
// gomemcache takes no context. Every call fails after the client's Timeout
// (gomemcache's default is 500 ms; set memcache.Client.Timeout to change it)
// when a server does not answer, so a down server is an error, not a hang.
// When ctx can be cancelled, the store runs the call in a goroutine and
// returns ctx's error as soon as ctx is done; the abandoned call finishes in
// the background within the client's Timeout, and a write it had already
// sent may still take effect. A call that cannot outlast ctx's deadline
// anyway runs in place instead, which saves the goroutine, a channel and a
// wake-up per call; a cancellation of ctx before its deadline is then seen
// when the call returns. gomemcache gives a command one Timeout to connect
// and one for the request and its answer, except that a get has one to
// send and one for each line it reads back (the value, then END): a Save or
// Delete takes at most 2 Timeouts, a Load 4, a Touch (get, cas) 6, a
// CompareAndSwap (at most three commands, one a get) 8 and a Renew (a
// get; the add and the cas at once; a delete, a get and a cas to undo) 14.
// With one Timeout more as margin, they run in place when the deadline is
// further away than 3, 3, 5, 7, 9 and 15 Timeouts: with the core's default
// StoreTimeout (5 s) and gomemcache's default Timeout (500 ms), all but
// Renew, which then runs in a goroutine.
package memcachestore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionkit/sessionkit/core"
)

const (
	// DefaultKeyPrefix is the key prefix used when Config.KeyPrefix is empty.
	DefaultKeyPrefix = "sessionkit:"

	// DefaultMaxItemSize is the default Config.MaxItemSize: memcached's
	// default item size limit of 1 MiB minus room for its item header and
	// the key.
	DefaultMaxItemSize = 1<<20 - 1024

	// MaxKeyPrefixLen is the longest KeyPrefix: memcached keys are at most
	// 250 bytes and session keys are 64.
	MaxKeyPrefixLen = 250 - 64

	// HeaderSize is how many bytes of each item's value the store reserves
	// for its header (the header of a record filed under a user holds the
	// user's hash); a record can hold MaxItemSize - HeaderSize bytes of
	// data.
	HeaderSize = headerLen
)

// Value layout: format byte, version, expiry in Unix nanoseconds, then for
// formatFiled the SHA-256 of the user the record is filed under (all zero:
// no user). A formatV1 record's filing is unknown (Save does not read the
// record it replaces): it counts as filed under whichever user's list
// holds its key.
const (
	formatV1    = 0x01
	formatFiled = 0x02
	v1HeaderLen = 1 + 8 + 8
	ownerLen    = sha256.Size
	headerLen   = v1HeaderLen + ownerLen
)

// maxRelative is memcached's largest relative expiration (30 days); larger
// values are read as absolute Unix times.
const maxRelative = 30 * 24 * 60 * 60

// Config configures a Store.
type Config struct {
	// KeyPrefix is put in front of every session key. Default
	// "sessionkit:". It must be at most MaxKeyPrefixLen bytes and contain
	// no spaces or control characters.
	KeyPrefix string

	// MaxItemSize is the largest item value, header included, that the
	// store sends; a larger record fails with an error wrapping
	// core.ErrTooLarge before anything is sent. Default DefaultMaxItemSize,
	// which suits memcached's default -I 1m. Raise it only together with
	// the servers' -I: memcached drops the old item when it rejects a set
	// as too large, so this limit is what keeps a failed Save harmless.
	MaxItemSize int
}

// Store keeps sessions in memcached. It is safe for concurrent use.
type Store struct {
	client  *memcache.Client
	prefix  string
	maxItem int
	casIDs  *casIDs
}

// Compile-time checks of the capabilities the store offers.
var (
	_ core.Store             = (*Store)(nil)
	_ core.Toucher           = (*Store)(nil)
	_ core.CompareAndSwapper = (*Store)(nil)
)

// New returns a Store that keeps sessions on the servers of client. The
// store does not change the client's settings.
func New(client *memcache.Client, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("sessionkit: memcache: new: nil client")
	}
	prefix := cfg.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	if len(prefix) > MaxKeyPrefixLen {
		return nil, fmt.Errorf("sessionkit: memcache: new: key prefix of %d bytes is longer than %d", len(prefix), MaxKeyPrefixLen)
	}
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; c <= ' ' || c == 0x7f {
			return nil, fmt.Errorf("sessionkit: memcache: new: key prefix contains a space or control character at byte %d", i)
		}
	}
	maxItem := cfg.MaxItemSize
	if maxItem == 0 {
		maxItem = DefaultMaxItemSize
	}
	if maxItem <= headerLen {
		return nil, fmt.Errorf("sessionkit: memcache: new: MaxItemSize %d leaves no room for data (header is %d bytes)", maxItem, headerLen)
	}
	return &Store{client: client, prefix: prefix, maxItem: maxItem, casIDs: new(casIDs)}, nil
}

// MaxRecordSize returns the largest session record, in bytes, that Save
// and CompareAndSwap accept.
func (s *Store) MaxRecordSize() int { return s.maxItem - headerLen }

// Load returns the record stored under key in one round trip.
func (s *Store) Load(ctx context.Context, key string) (core.Record, bool, error) {
	if !core.ValidKey(key) {
		return core.Record{}, false, fmt.Errorf("sessionkit: memcache: load: %w", core.ErrInvalidKey)
	}
	// rec and found are written by the call, which may still be running
	// in the background when ctx ends first: read them only on success.
	var (
		rec   core.Record
		found bool
	)
	err := s.do(ctx, boundLoad, func() error {
		item, err := s.client.Get(s.prefix + key)
		if errors.Is(err, memcache.ErrCacheMiss) {
			return nil
		}
		if err != nil {
			return err
		}
		h, data, err := decode(item.Value)
		if err != nil || !h.live(time.Now()) {
			return err
		}
		s.casIDs.remember(key, h, item.CasID)
		rec, found = core.Record{Data: data, Expiry: h.expiry, Version: h.version}, true
		return nil
	})
	if err != nil {
		return core.Record{}, false, s.wrap("load", key, err)
	}
	return rec, found, nil
}

// Save stores data under key until expiry in one round trip (set). An
// expiry that is not in the future deletes the record.
func (s *Store) Save(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if !core.ValidKey(key) {
		return fmt.Errorf("sessionkit: memcache: save: %w", core.ErrInvalidKey)
	}
	if headerLen+len(data) > s.maxItem {
		return fmt.Errorf("sessionkit: memcache: save: %w: %d bytes, limit %d", core.ErrTooLarge, len(data), s.MaxRecordSize())
	}
	err := s.do(ctx, boundWrite, func() error {
		now := time.Now()
		if !expiry.After(now) {
			return ignoreMiss(s.client.Delete(s.prefix + key))
		}
		return s.client.Set(&memcache.Item{
			Key:        s.prefix + key,
			Value:      encode(header{version: newVersion(), expiry: expiry}, data),
			Expiration: expiration(expiry, now),
		})
	})
	if err != nil {
		return s.wrap("save", key, err)
	}
	return nil
}

// Delete removes the record under key. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !core.ValidKey(key) {
		return fmt.Errorf("sessionkit: memcache: delete: %w", core.ErrInvalidKey)
	}
	err := s.do(ctx, boundWrite, func() error {
		return ignoreMiss(s.client.Delete(s.prefix + key))
	})
	if err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

// Worst-case durations of the store's calls, in the client's Timeouts (see
// the package documentation): a set, add, cas or delete takes at most 2
// (connect; send and answer), a get 4 (connect; send; the value line and
// data; END).
const (
	boundAny   = 0         // the number of commands is not fixed
	boundWrite = 2         // Save, Delete
	boundLoad  = 4         // Load
	boundTouch = 4 + 2     // get, cas
	boundCAS   = 2 + 4 + 2 // cas, get, cas (or add, get, add or cas)
)

// do runs f, which takes at most timeouts of the client's Timeouts
// (boundAny: no bound), returning early with ctx's error when ctx is done
// first; f then goes on in its goroutine, and what it writes stays. When
// ctx's deadline is further away than f can take, with one Timeout to
// spare, f runs in place; the deadline is checked before Done, which may
// set up a timer that the call in place does not need.
func (s *Store) do(ctx context.Context, timeouts int, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && timeouts > 0 && time.Until(d) > s.timeouts(timeouts+1) {
		return f()
	}
	if ctx.Done() == nil {
		return f()
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done:
			return err // f finished too: its result stands
		default:
			return ctx.Err()
		}
	}
}

// timeouts returns n of the client's Timeouts.
func (s *Store) timeouts(n int) time.Duration {
	t := s.client.Timeout
	if t <= 0 {
		t = memcache.DefaultTimeout
	}
	return time.Duration(n) * t
}

// wrap prefixes err with the package and operation, classifying memcached's
// size rejection as core.ErrTooLarge. An error whose text would reveal the
// key, or any item name (the key prefix, or 64 hexadecimal digits in a
// row), is replaced by one that does not.
func (s *Store) wrap(op, key string, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, core.ErrConflict), errors.Is(err, core.ErrCorrupt), errors.Is(err, core.ErrTooLarge),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	case strings.Contains(msg, "too large"):
		return fmt.Errorf("sessionkit: memcache: %s: %w: rejected by the server", op, core.ErrTooLarge)
	case strings.Contains(msg, key), strings.Contains(msg, s.prefix), hasHexRun(msg):
		// gomemcache quotes reply lines, which may name any item: this
		// record, a user's list, or other sessions' records.
		return fmt.Errorf("sessionkit: memcache: %s: unexpected server response", op)
	}
	return fmt.Errorf("sessionkit: memcache: %s: %w", op, err)
}

// hasHexRun reports whether msg holds 64 hexadecimal digits in a row: a
// store key, which must not appear in an error.
func hasHexRun(msg string) bool {
	n := 0
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			if n++; n >= 64 {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
}

// ignoreMiss turns memcached's "not found" into success.
func ignoreMiss(err error) error {
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	return err
}

// expiration returns memcached's expiration for expiry: seconds from now,
// rounded up plus one second because memcached's clock ticks once a second
// and may expire an item up to a second early, or an absolute Unix time
// beyond 30 days. An expiry that has passed gives -1: expire immediately.
func expiration(expiry, now time.Time) int32 {
	d := expiry.Sub(now)
	if d <= 0 {
		return -1
	}
	secs := int64((d+time.Second-1)/time.Second) + 1
	if secs <= maxRelative {
		return int32(secs)
	}
	abs := now.Unix() + secs
	if abs > math.MaxInt32 {
		// Past 2038 memcached cannot express the time; the header still
		// makes Load honour the real expiry.
		return math.MaxInt32
	}
	return int32(abs)
}

// newVersion returns a random non-zero version.
func newVersion() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}

// header is the store's metadata in front of each item's data.
type header struct {
	version uint64
	expiry  time.Time
	// filed tells that owner is known: the hash of the record's user, or
	// all zero for no user.
	filed bool
	owner [ownerLen]byte
}

// live reports whether a record with this header is still valid at now.
func (h header) live(now time.Time) bool { return now.Before(h.expiry) }

// encode returns an item value: the header, then a copy of data.
func encode(h header, data []byte) []byte {
	n := v1HeaderLen
	if h.filed {
		n = headerLen
	}
	b := make([]byte, n+len(data))
	b[0] = formatV1
	binary.BigEndian.PutUint64(b[1:], h.version)
	binary.BigEndian.PutUint64(b[9:], uint64(h.expiry.UnixNano()))
	if h.filed {
		b[0] = formatFiled
		copy(b[v1HeaderLen:], h.owner[:])
	}
	copy(b[n:], data)
	return b
}

// decode splits an item value into header and data.
func decode(value []byte) (header, []byte, error) {
	n := v1HeaderLen
	if len(value) > 0 && value[0] == formatFiled {
		n = headerLen
	}
	if len(value) < n || (value[0] != formatV1 && value[0] != formatFiled) {
		return header{}, nil, fmt.Errorf("%w: not a sessionkit record", core.ErrCorrupt)
	}
	h := header{
		version: binary.BigEndian.Uint64(value[1:]),
		expiry:  time.Unix(0, int64(binary.BigEndian.Uint64(value[9:]))),
		filed:   n == headerLen,
	}
	copy(h.owner[:], value[v1HeaderLen:n])
	return h, value[n:], nil
}
