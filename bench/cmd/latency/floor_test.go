package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestFloorKeepsSessions: the floor server of each framework keeps a
// session per cookie as the measured routes use it (seeded values read
// back, an update seen by the next request, Vary: Cookie on every
// response), and a missing or malformed token reads no values.
func TestFloorKeepsSessions(t *testing.T) {
	for _, fw := range []string{"nethttp", "gin", "echo"} {
		t.Run(fw, func(t *testing.T) {
			s, err := start(fw, kindFloor)
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
