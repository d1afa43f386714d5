// Package userindextest holds the user-index scenarios that the redis and
// memcache store tests share beyond the conformance suite (run against
// several deployments of each).
package userindextest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/adapters/nethttp"
	"github.com/sessionkit/sessionkit/core"
)

// CheckManagerUserSessions drives the Manager's user API through real
// HTTP sessions on store: three browsers log in as one user, the Manager
// lists them, ends two of them while their browsers keep writing, and the
// ended sessions stay ended.
func CheckManagerUserSessions(t *testing.T, store core.Store) {
	t.Helper()
	ctx := context.Background()
	mgr, err := core.New(core.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(nethttp.Middleware(mgr)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := nethttp.Get(r)
		switch r.URL.Path {
		case "/login":
			s.Renew()
			s.SetUser("ann")
		case "/write":
			n, _ := core.Value[int](s, "n")
			s.Set("n", n+1)
		}
		fmt.Fprintf(w, "%s %s", s.User(), s.ID())
	})))
	defer srv.Close()
	browsers := make([]*http.Client, 3)
	ids := make([]string, 3)
	get := func(b *http.Client, path string) (user, id string) {
		t.Helper()
		resp, err := b.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		user, id, _ = strings.Cut(string(body), " ")
		return user, id
	}
	for i := range browsers {
		jar, _ := cookiejar.New(nil)
		browsers[i] = &http.Client{Jar: jar, Timeout: time.Minute}
		if user, id := get(browsers[i], "/login"); user != "ann" {
			t.Fatalf("login answered user %q", user)
		} else {
			ids[i] = id
		}
	}
	list, err := mgr.UserSessions(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, si := range list {
		listed = append(listed, si.ID)
	}
	slices.Sort(listed)
	if want := slices.Sorted(slices.Values(ids)); !slices.Equal(listed, want) {
		t.Fatalf("UserSessions(ann) = %q, want %q", listed, want)
	}

	// Browsers 1 and 2 keep writing while every session but 0 is ended.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, b := range browsers[1:] {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := b.Get(srv.URL + "/write")
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
	}
	n, err := mgr.EndUserSessions(ctx, "ann", ids[0])
	close(stop)
	wg.Wait()
	if err != nil || n != 2 {
		t.Errorf("EndUserSessions(ann, except 0) = %d, %v, want 2", n, err)
	}
	for i, b := range browsers {
		user, _ := get(b, "/write")
		if want := map[bool]string{true: "ann", false: ""}[i == 0]; user != want {
			t.Errorf("browser %d after EndUserSessions is logged in as %q, want %q", i, user, want)
		}
	}
	if list, err := mgr.UserSessions(ctx, "ann"); err != nil || len(list) != 1 || list[0].ID != ids[0] {
		t.Errorf("UserSessions(ann) after EndUserSessions = %+v, %v, want only %s", list, err, ids[0])
	}
	if ended, err := mgr.EndSession(ctx, "ann", ids[0]); err != nil || !ended {
		t.Errorf("EndSession(ann, 0) = %v, %v, want true", ended, err)
	}
	if user, _ := get(browsers[0], "/write"); user != "" {
		t.Errorf("browser 0 after EndSession is logged in as %q", user)
	}
	if list, err := mgr.UserSessions(ctx, "ann"); err != nil || len(list) != 0 {
		t.Errorf("UserSessions(ann) after ending every session = %+v, %v, want none", list, err)
	}
}
