package bench

import (
	"net/http"
	"strings"
	"testing"
)

// TestContenders checks that every contender's routes do the work the
// benchmarks claim to measure: a seeded session reads back, an update is
// visible to the next read, a new session and a renewal issue a cookie,
// and the renewed session keeps its values.
func TestContenders(t *testing.T) {
	for _, c := range contenders() {
		t.Run(c.name, func(t *testing.T) {
			tg := c.open(t)
			defer tg.close()
			get := func(path, cookie string) *respWriter {
				t.Helper()
				w := newClient(tg, path, cookie).do()
				if w.status() != http.StatusOK {
					t.Fatalf("GET %s: status %d, body %q", path, w.status(), w.body)
				}
				return w
			}
			if tg.cookie == "" { // a baseline: no sessions at all
				if w := get("/read", ""); string(w.body) != "ok" {
					t.Fatalf("GET /read = %q, want ok", w.body)
				}
				return
			}
			if w := get("/new", ""); w.cookie(tg.cookie) == "" {
				t.Errorf("GET /new: no cookie set; Set-Cookie = %q", w.h["Set-Cookie"])
			}
			cookie := seed(t, tg)
			if w := get("/read", cookie); string(w.body) != "ok" {
				t.Errorf("GET /read with the seeded session = %q, want ok (the value %q was not read back)", w.body, readWant)
			}
			if w := get("/untouched", cookie); string(w.body) != "ok" {
				t.Errorf("GET /untouched = %q, want ok", w.body)
			} else if strings.HasPrefix(c.name, "sessionkit-") && len(w.h["Set-Cookie"]) != 0 {
				t.Errorf("GET /untouched: sessionkit set a cookie %q on an untouched session", w.h["Set-Cookie"])
			}
			w := get("/update", cookie)
			updated := cookie
			if nc := w.cookie(tg.cookie); nc != "" { // cookie stores carry the data
				updated = nc
			}
			if w := get("/read", updated); string(w.body) != "miss" {
				t.Errorf("GET /read after /update = %q, want miss (the update did not reach the store)", w.body)
			}
			if c.noRenew {
				return
			}
			fresh := seed(t, tg)
			w = get("/renew", fresh)
			renewed := w.cookie(tg.cookie)
			if renewed == "" || renewed == fresh {
				t.Fatalf("GET /renew: cookie %q, want a new one", renewed)
			}
			if w := get("/read", renewed); string(w.body) != "ok" {
				t.Errorf("GET /read after /renew = %q, want ok (values lost)", w.body)
			}
			// A client-side session without a revocation list stays valid
			// until its deadline (documented by stores/cookie).
			if strings.HasPrefix(c.name, "sessionkit-") && !strings.HasSuffix(c.name, "-cookie") {
				if w := get("/read", fresh); string(w.body) != "miss" {
					t.Errorf("GET /read with the pre-renew cookie = %q, want miss (old session still live)", w.body)
				}
			}
		})
	}
}
