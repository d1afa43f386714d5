package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestServersKeepSessions: the floor server and sessionkit's, of each
// framework, keep a session per cookie as the measured routes use it
// (seeded values read back, an update seen by the next request, Vary:
// Cookie on every response), and a missing or malformed token reads no
// values.
func TestServersKeepSessions(t *testing.T) {
	for _, tc := range []struct{ fw, kind string }{
		{"nethttp", kindFloor}, {"gin", kindFloor}, {"echo", kindFloor},
		{"nethttp", kindSession}, {"gin", kindSession}, {"echo", kindSession},
	} {
		t.Run(tc.kind+"/"+tc.fw, func(t *testing.T) {
			s, err := start(tc.fw, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			defer s.close()
			get := func(path, cookie string) (string, http.Header) {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: status %d", path, resp.StatusCode)
				}
				if v := resp.Header.Values("Vary"); len(v) != 1 || v[0] != "Cookie" {
					t.Errorf("GET %s: Vary %q, want [Cookie]", path, v)
				}
				return string(body), resp.Header
			}
			_, h := get("/seed", "")
			cookie, _, _ := strings.Cut(h.Get("Set-Cookie"), ";")
			if len(cookie) != len("session=")+43 {
				t.Fatalf("/seed set cookie %q, want a 43-character token", h.Get("Set-Cookie"))
			}
			if body, _ := get("/read", cookie); body != "value-3" {
				t.Errorf("read after seed = %q, want value-3", body)
			}
			get("/update", cookie)
			if body, _ := get("/read", cookie); body != "changed-a" && body != "changed-b" {
				t.Errorf("read after update = %q, want changed-a or changed-b", body)
			}
			if body, h := get("/untouched", cookie); body != "ok" || h.Get("Set-Cookie") != "" {
				t.Errorf("untouched = %q, Set-Cookie %q; want ok and none", body, h.Get("Set-Cookie"))
			}
			for _, bad := range []string{"", "session=short", "session=" + strings.Repeat("!", 43), "other=" + cookie[len("session="):]} {
				if body, _ := get("/read", bad); body != "" {
					t.Errorf("read with Cookie %q = %q, want no value", bad, body)
				}
			}
		})
	}
}

// TestFloorNoLostUpdate: concurrent requests of one session, each setting
// its own value, all leave their value stored (each update applies to the
// values stored at that moment, under the lock), and a Vary the handler
// set is kept beside the floor's.
func TestFloorNoLostUpdate(t *testing.T) {
	h := floorMiddleware(newFloorStore(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := floorOf(r.Context())
		w.Header().Set("Vary", "Accept-Encoding")
		switch k := r.URL.Query().Get("k"); k {
		case "":
			var b strings.Builder
			for i := range 40 {
				b.WriteString(f.get(strconv.Itoa(i)))
			}
			_, _ = io.WriteString(w, b.String())
		default:
			f.set(k, "v"+k+";")
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(query, cookie string) (string, http.Header) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/?"+query, nil)
		if cookie != "" {
			req.Header.Set("Cookie", "theme=dark; "+cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return "", nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body), resp.Header
	}
	_, hdr := do("k=seed", "")
	cookie, _, _ := strings.Cut(hdr.Get("Set-Cookie"), ";")
	if got := hdr.Values("Vary"); len(got) != 2 || got[0] != "Accept-Encoding" || got[1] != "Cookie" {
		t.Errorf("Vary %q, want [Accept-Encoding Cookie]", got)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() { do("k="+strconv.Itoa(i), cookie) })
	}
	wg.Wait()
	var want strings.Builder
	for i := range 40 {
		fmt.Fprintf(&want, "v%d;", i)
	}
	if body, _ := do("", cookie); body != want.String() {
		t.Errorf("after 40 concurrent updates the session holds %q, want %q", body, want.String())
	}
}

// TestFloorChecksTheToken: a cookie that is not a 43-character base64url
// token is never looked up, even when a record sits under its hash.
func TestFloorChecksTheToken(t *testing.T) {
	st := newFloorStore()
	for _, tok := range []string{strings.Repeat("!", 43), strings.Repeat("a", 42), strings.Repeat("a", 44), strings.Repeat("a", 43)} {
		key := sha256.Sum256([]byte(tok))
		st.shard(&key).recs[key] = map[string]string{"k3": "stored"}
		f := &floorSession{st: st}
		f.r.Header = http.Header{"Cookie": {"other=1; session=" + tok}}
		got, want := f.get("k3"), ""
		if tok == strings.Repeat("a", 43) {
			want = "stored" // a well-formed token, in the second cookie part
		}
		if got != want {
			t.Errorf("token %q: get = %q, want %q", tok, got, want)
		}
	}
}

// TestFloorReadsItsLatestChange: a key the request set twice reads back
// its second value, before and after the changes are saved, and the
// store keeps the second.
func TestFloorReadsItsLatestChange(t *testing.T) {
	st := newFloorStore()
	var got []string
	h := floorMiddleware(st, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := floorOf(r.Context())
		f.set("visits", "1")
		f.set("visits", "2")
		got = append(got, f.get("visits"))
		_, _ = io.WriteString(w, "ok") // the hook saves
		got = append(got, f.get("visits"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if strings.Join(got, ",") != "2,2" {
		t.Fatalf("get after two sets read %q, want 2 both before and after the save", got)
	}
	cookie := rec.Result().Cookies()
	if len(cookie) != 1 {
		t.Fatalf("a fresh session got %d cookies, want 1", len(cookie))
	}
	key := sha256.Sum256([]byte(cookie[0].Value))
	if v := st.shard(&key).recs[key]["visits"]; v != "2" {
		t.Errorf("stored visits = %q, want 2", v)
	}
}
