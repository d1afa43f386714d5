package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
)

// TestRoutes drives the JSON API the way the external black-box suite
// does, on every framework, and expects identical answers.
func TestRoutes(t *testing.T) {
	for _, fw := range []string{"nethttp", "gin", "echo"} {
		t.Run(fw, func(t *testing.T) {
			o, err := parseOptions([]string{"-framework", fw}, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			h, closeStore, err := newApp(context.Background(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			srv := httptest.NewServer(h)
			defer srv.Close()
			jar, _ := cookiejar.New(nil)
			client := &http.Client{Jar: jar}
			call := func(method, path string) (map[string]any, []*http.Cookie) {
				t.Helper()
				req, _ := http.NewRequest(method, srv.URL+path, nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s %s = %d", method, path, resp.StatusCode)
				}
				var v map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				return v, resp.Cookies()
			}
			expect := func(method, path string, want map[string]any) []*http.Cookie {
				t.Helper()
				got, cookies := call(method, path)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s %s = %v, want %v", method, path, got, want)
				}
				return cookies
			}
			expect("GET", "/api/count", map[string]any{"count": 1.0})
			expect("GET", "/api/count", map[string]any{"count": 2.0})
			expect("POST", "/api/set?key=color&value=blue", map[string]any{"ok": true})
			expect("GET", "/api/get?key=color", map[string]any{"key": "color", "value": "blue", "found": true})
			expect("GET", "/api/get?key=size", map[string]any{"key": "size", "value": "", "found": false})
			expect("GET", "/api/whoami", map[string]any{"user": ""})
			before := jar.Cookies(srvURL(t, srv.URL))[0].Value
			if c := expect("POST", "/api/login?user=ann", map[string]any{"ok": true, "user": "ann"}); len(c) != 1 || c[0].Value == before {
				t.Errorf("login did not renew the cookie: %v", c)
			}
			expect("GET", "/api/whoami", map[string]any{"user": "ann"})
			expect("GET", "/api/get?key=color", map[string]any{"key": "color", "value": "blue", "found": true})
			expect("POST", "/api/flash?msg=hello", map[string]any{"ok": true})
			expect("GET", "/api/flashes", map[string]any{"flashes": []any{"Welcome, ann!", "hello"}})
			expect("GET", "/api/flashes", map[string]any{"flashes": []any{}})
			if c := expect("POST", "/api/logout", map[string]any{"ok": true}); len(c) != 1 || c[0].MaxAge >= 0 {
				t.Errorf("logout did not expire the cookie: %v", c)
			}
			expect("GET", "/api/whoami", map[string]any{"user": ""})
			expect("GET", "/api/count", map[string]any{"count": 1.0})
		})
	}
}

func srvURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestOptionsFromEnvironment(t *testing.T) {
	env := map[string]string{"SESSIONKIT_FRAMEWORK": "gin", "SESSIONKIT_IDLE_TIMEOUT": "5m", "SESSIONKIT_SECURE": "true", "SESSIONKIT_HEADER": "X-Session-Token"}
	o, err := parseOptions([]string{"-store", "file"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.framework != "gin" || o.idleTimeout.String() != "5m0s" || !o.secure || o.header != "X-Session-Token" || o.store != "file" || o.addr != "127.0.0.1:8080" {
		t.Errorf("parseOptions = %+v", o)
	}
	if _, err := parseOptions([]string{"-nope"}, func(string) string { return "" }); err == nil {
		t.Error("unknown flag accepted")
	}
	if _, _, err := newApp(context.Background(), options{framework: "nethttp", store: "nope"}, slog.Default()); err == nil {
		t.Error("unknown store accepted")
	}
}
