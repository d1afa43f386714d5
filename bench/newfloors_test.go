package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
	goredis "github.com/redis/go-redis/v9"
)

// The new-session contract floor, on a network store. One write round
// trip (BenchmarkFloor's Floor/*-set) is what no library avoids, but it is
// not all a new session must do: the write runs in a request, behind the
// hook that the contract floor of the untouched request already pays
// (floors_test.go), and a middleware keeping sessionkit's contract must
// also draw a 256-bit token from crypto/rand, send it base64url-encoded in
// a cookie that is HttpOnly and SameSite=Lax, store the record under the
// token's SHA-256 (never the token itself), and write it create-only (a
// new session never overwrites a record: SET NX on Redis, add on
// memcached) with the session's creation time in it (the absolute
// timeout). On a machine where the server shares the CPU with the
// request (as run.sh pins both), that work also runs after the server has
// had the CPU, which the bare round trip measures without.
//
// floor-<framework>-<store> is the bare server of the framework behind a
// middleware that does exactly that for a new session, in the cheapest
// way we know, through the client and options the contenders use: no
// codec beyond the one value, no version, no user index, no observer, no
// deadline of its own. Its handlers are the bare server's, which cannot
// reach a session, so the middleware counts the request to /new as the
// one that stores a value (the "user" the contenders' /new sets): what a
// handler pays to reach its session is left out, which only lowers the
// floor. It is measured on the new-session request only.

// floorStore is a contract floor's store: the create-only write of a new
// session's record under key.
type floorStore func(key string, record []byte) error

// errFloorExists is a create-only write that found the key taken.
var errFloorExists = errors.New("floor: the key exists")

// redisFloorStore writes with SET NX PX, through a go-redis client with
// the contenders' options.
func redisFloorStore(tb testing.TB) (floorStore, func()) {
	client := goredis.NewClient(&goredis.Options{Addr: serverAddr(tb, "redis")})
	ctx := context.Background()
	return func(key string, record []byte) error {
		ok, err := client.SetNX(ctx, key, record, floorTTL).Result()
		if err == nil && !ok {
			err = errFloorExists
		}
		return err
	}, func() { _ = client.Close() }
}

// memcacheFloorStore writes with add, through a gomemcache client.
func memcacheFloorStore(tb testing.TB) (floorStore, func()) {
	client := memcache.New(serverAddr(tb, "memcached"))
	return func(key string, record []byte) error {
		err := client.Add(&memcache.Item{Key: key, Value: record, Expiration: int32(floorTTL / time.Second)})
		if errors.Is(err, memcache.ErrNotStored) {
			err = errFloorExists
		}
		return err
	}, func() { _ = client.Close() }
}

// floorCookie is the contract floors' session cookie name.
const floorCookie = "sid"

// floorNewSession commits a new session holding user=alice as the
// contract floor does: a 256-bit token, its SHA-256 as the store key
// ("floor:" and 64 hex digits), a record of the creation time and the
// value, written create-only, and the cookie. It returns the store's
// error (a test's failure, never a benchmark's).
func floorNewSession(h http.Header, store floorStore) error {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	var tok [43]byte
	base64.RawURLEncoding.Encode(tok[:], raw[:])
	sum := sha256.Sum256(tok[:])
	var key [len("floor:") + 2*sha256.Size]byte
	copy(key[:], "floor:")
	hex.Encode(key[len("floor:"):], sum[:])
	var rec [8 + 1 + len("user") + 1 + len("alice")]byte
	b := binary.BigEndian.AppendUint64(rec[:0], uint64(time.Now().UnixNano()))
	b = append(append(b, byte(len("user"))), "user"...)
	b = append(append(b, byte(len("alice"))), "alice"...)
	if err := store(string(key[:]), b); err != nil {
		return err
	}
	h["Set-Cookie"] = []string{floorCookie + "=" + string(tok[:]) + "; Path=/; HttpOnly; SameSite=Lax"}
	return nil
}

// newHook is the hook of the new-session floors: the untouched floor's
// (varyHook: Vary: Cookie) and, on a request that stored a value, the new
// session's commit. The response carries a 500 when the store failed.
type newHook struct {
	varyHook // armed until the hook first runs
	touched  bool
	store    floorStore
	err      error
}

// armNewHook returns the armed hook of a request to r's path: the one to
// /new stores a value (see above).
func armNewHook(r *http.Request, store floorStore) newHook {
	return newHook{varyHook: true, touched: r.URL.Path == "/new", store: store}
}

func (k *newHook) run(h http.Header) {
	if !k.varyHook {
		return
	}
	k.varyHook.run(h)
	if k.touched {
		k.err = floorNewSession(h, k.store)
	}
}

// newHookWriter is the net/http new-session floor's response writer.
type newHookWriter struct {
	http.ResponseWriter
	hook newHook
}

func (hw *newHookWriter) WriteHeader(code int) {
	if hw.hook.run(hw.Header()); hw.hook.err != nil {
		code = http.StatusInternalServerError
	}
	hw.ResponseWriter.WriteHeader(code)
}

func (hw *newHookWriter) Write(b []byte) (int, error) {
	if hw.hook.varyHook {
		hw.WriteHeader(http.StatusOK)
	}
	return hw.ResponseWriter.Write(b)
}

// floorNetHTTPNew is the net/http new-session floor middleware over store:
// the request copy and the wrapper in one allocation, as the hook floor.
func floorNetHTTPNew(store floorStore) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b := new(struct {
				r  http.Request
				hw newHookWriter
			})
			b.r = *r.WithContext(floorCtx)
			b.hw.ResponseWriter = w
			b.hw.hook = armNewHook(r, store)
			next.ServeHTTP(&b.hw, &b.r)
			if b.hw.hook.varyHook {
				b.hw.WriteHeader(http.StatusOK)
			}
		})
	}
}

// ginNewHookWriter is the Gin new-session floor's wrapper of c.Writer.
type ginNewHookWriter struct {
	gin.ResponseWriter
	hook newHook
}

func (hw *ginNewHookWriter) runHook() {
	if hw.hook.run(hw.Header()); hw.hook.err != nil {
		hw.ResponseWriter.WriteHeader(http.StatusInternalServerError)
	}
}

func (hw *ginNewHookWriter) WriteHeaderNow() {
	hw.runHook()
	hw.ResponseWriter.WriteHeaderNow()
}

func (hw *ginNewHookWriter) Write(b []byte) (int, error) {
	hw.runHook()
	return hw.ResponseWriter.Write(b)
}

func (hw *ginNewHookWriter) WriteString(s string) (int, error) {
	hw.runHook()
	return hw.ResponseWriter.WriteString(s)
}

// floorGinNew is the Gin new-session floor middleware over store.
func floorGinNew(store floorStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig, req := c.Writer, c.Request
		b := new(struct {
			r  http.Request
			hw ginNewHookWriter
		})
		b.r = *req.WithContext(floorCtx)
		b.hw.ResponseWriter = orig
		b.hw.hook = armNewHook(req, store)
		c.Writer, c.Request = &b.hw, &b.r
		c.Next()
		b.hw.runHook()
		c.Writer, c.Request = orig, req
	}
}

// newOnly: the new-session floors are measured on the new session.
var newOnly = []string{"new"}

// newFloor returns the contender floor-<framework>-<store> (framework
// "nethttp" or "gin", store "redis" or "memcache").
func newFloor(framework, store string) contender {
	stores := map[string]func(testing.TB) (floorStore, func()){"redis": redisFloorStore, "memcache": memcacheFloorStore}
	return contender{name: "floor-" + framework + "-" + store, framework: framework, only: newOnly,
		open: func(tb testing.TB) *target {
			st, closeStore := stores[store](tb)
			var t *target
			if framework == "gin" {
				t = bareGinWith(tb, floorGinNew(st))
			} else {
				t = bareNetHTTPWith(tb, floorNetHTTPNew(st))
			}
			t.close = closeStore
			return t
		}}
}

// newFloorContenders are the new-session contract floors, on the
// frameworks and stores that sessionkit's network contenders use.
var newFloorContenders = []contender{
	newFloor("nethttp", "redis"), newFloor("gin", "redis"),
	newFloor("nethttp", "memcache"), newFloor("gin", "memcache"),
}

// TestNewFloors checks what the new-session floors claim: the request to
// /new answers with a session cookie of a fresh 43-character token,
// HttpOnly and SameSite=Lax, and Vary: Cookie; the store holds the record
// (the creation time and the value) under "floor:" and the hex SHA-256 of
// the token, not under the token; the write is create-only; and the
// untouched request sets no cookie and stores nothing, but varies.
func TestNewFloors(t *testing.T) {
	load := map[string]func(tb testing.TB) func(key string) ([]byte, error){
		"redis": func(tb testing.TB) func(string) ([]byte, error) {
			c := goredis.NewClient(&goredis.Options{Addr: serverAddr(tb, "redis")})
			tb.Cleanup(func() { _ = c.Close() })
			return func(key string) ([]byte, error) { return c.Get(context.Background(), key).Bytes() }
		},
		"memcache": func(tb testing.TB) func(string) ([]byte, error) {
			c := memcache.New(serverAddr(tb, "memcached"))
			tb.Cleanup(func() { _ = c.Close() })
			return func(key string) ([]byte, error) {
				it, err := c.Get(key)
				if err != nil {
					return nil, err
				}
				return it.Value, nil
			}
		},
	}
	for _, c := range newFloorContenders {
		t.Run(c.name, func(t *testing.T) {
			if c.only == nil || len(c.only) != 1 || c.only[0] != "new" {
				t.Fatalf("only = %q, want the new session alone", c.only)
			}
			store := c.name[len("floor-"+c.framework+"-"):]
			get := load[store](t)
			tg := c.open(t)
			defer tg.close()
			start := time.Now()
			seen := map[string]bool{}
			for range 3 {
				w := newClient(tg, "/new", "").do()
				if w.status() != http.StatusOK || string(w.body) != "ok" {
					t.Fatalf("GET /new: status %d, body %q", w.status(), w.body)
				}
				if v := w.h["Vary"]; len(v) != 1 || v[0] != "Cookie" {
					t.Errorf("GET /new: Vary = %q, want Cookie", v)
				}
				sc := w.h["Set-Cookie"]
				if len(sc) != 1 {
					t.Fatalf("GET /new: Set-Cookie = %q, want one", sc)
				}
				tok, attrs, _ := strings.Cut(strings.TrimPrefix(sc[0], floorCookie+"="), ";")
				if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) != 32 {
					t.Fatalf("GET /new: token %q is not 32 bytes base64url (%v)", tok, err)
				}
				if !strings.Contains(attrs, "HttpOnly") || !strings.Contains(attrs, "SameSite=Lax") {
					t.Errorf("GET /new: cookie attributes %q, want HttpOnly and SameSite=Lax", attrs)
				}
				if seen[tok] {
					t.Fatalf("GET /new gave the token %q twice", tok)
				}
				seen[tok] = true
				if _, err := get("floor:" + tok); err == nil {
					t.Errorf("the store holds a record under the token itself")
				}
				sum := sha256.Sum256([]byte(tok))
				rec, err := get("floor:" + hex.EncodeToString(sum[:]))
				if err != nil {
					t.Fatalf("the record under the token's hash: %v", err)
				}
				if len(rec) != 8+1+4+1+5 || !strings.HasSuffix(string(rec), "\x04user\x05alice") {
					t.Fatalf("the record %q, want the creation time and user=alice", rec)
				}
				if created := time.Unix(0, int64(binary.BigEndian.Uint64(rec))); created.Before(start) || created.After(time.Now()) {
					t.Errorf("the record's creation time %v is not the request's", created)
				}
			}
			w := newClient(tg, "/untouched", "").do()
			if w.status() != http.StatusOK || len(w.h["Set-Cookie"]) != 0 {
				t.Errorf("GET /untouched: status %d, Set-Cookie %q; want 200 and none", w.status(), w.h["Set-Cookie"])
			}
			if v := w.h["Vary"]; len(v) != 1 || v[0] != "Cookie" {
				t.Errorf("GET /untouched: Vary = %q, want Cookie", v)
			}
		})
	}
	// The write is create-only: a second write of a key fails.
	for name, open := range map[string]func(testing.TB) (floorStore, func()){"redis": redisFloorStore, "memcache": memcacheFloorStore} {
		st, closeStore := open(t)
		key := newKeys(t, 1)[0]
		if err := st(key, []byte("first")); err != nil {
			t.Fatalf("%s: the first write: %v", name, err)
		}
		if err := st(key, []byte("second")); !errors.Is(err, errFloorExists) {
			t.Errorf("%s: a second write of the key: %v, want errFloorExists", name, err)
		}
		closeStore()
	}
}
