package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/internal/testserver"
)

// TestRoutes drives the JSON API the way the external black-box suite
// does, on every framework and every store, and expects identical answers.
func TestRoutes(t *testing.T) {
	for _, st := range demoStores(t) {
		for _, fw := range frameworkList() {
			t.Run(st.name+"/"+fw, func(t *testing.T) {
				testRoutes(t, append([]string{"-framework", fw}, st.args(t)...))
			})
		}
	}
	// The other codec and signed tokens change nothing a client sees.
	t.Run("json-codec-signed", func(t *testing.T) {
		testRoutes(t, []string{"-codec", "json", "-signing-key", base64.StdEncoding.EncodeToString(make([]byte, 32))})
	})
	t.Run("cookie-json-codec", func(t *testing.T) {
		testRoutes(t, []string{"-store", "cookie", "-codec", "json"})
	})
}

// demoStore is a -store value with the flags it needs in a test.
type demoStore struct {
	name string
	args func(t *testing.T) []string
}

// demoStores are the stores TestRoutes covers: the in-process ones, the
// client-side one, and the network ones on the test servers.
func demoStores(t *testing.T) []demoStore {
	return []demoStore{
		{"memory", func(*testing.T) []string { return []string{"-store", "memory"} }},
		{"file", func(t *testing.T) []string { return []string{"-store", "file", "-store-addr", t.TempDir()} }},
		{"cookie", func(*testing.T) []string {
			return []string{"-store", "cookie", "-cookie-keys", base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))}
		}},
		{"redis", func(t *testing.T) []string { return []string{"-store", "redis", "-store-addr", testserver.Redis(t)} }},
		{"memcache", func(t *testing.T) []string {
			return []string{"-store", "memcache", "-store-addr", testserver.Memcached(t)}
		}},
		{"postgres", func(t *testing.T) []string { return []string{"-store", "postgres", "-store-dsn", postgresDSN(t)} }},
		{"mysql", func(t *testing.T) []string { return []string{"-store", "mysql", "-store-dsn", mysqlDSN(t)} }},
		{"sqlite", func(t *testing.T) []string {
			return []string{"-store", "sqlite", "-store-addr", filepath.Join(t.TempDir(), "sessions.db")}
		}},
	}
}

// frameworkList returns the -framework values, sorted.
func frameworkList() []string {
	return slices.Sorted(maps.Keys(frameworks))
}

// postgresDSN returns SESSIONKIT_POSTGRES_DSN, or the local server's DSN
// when it answers; otherwise it skips (or fails under
// SESSIONKIT_REQUIRE_SERVERS=1).
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("SESSIONKIT_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		err = pool.Ping(ctx)
		pool.Close()
	}
	if err != nil {
		testserver.Unavailable(t, "no PostgreSQL at SESSIONKIT_POSTGRES_DSN or 127.0.0.1:5432: %v", err)
	}
	return dsn
}

// mysqlDSN returns SESSIONKIT_MYSQL_DSN, or the local MariaDB/MySQL
// server's DSN when it answers; otherwise it skips (or fails under
// SESSIONKIT_REQUIRE_SERVERS=1).
func mysqlDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("SESSIONKIT_MYSQL_DSN")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/test"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	db, err := sql.Open("mysql", dsn)
	if err == nil {
		err = db.PingContext(ctx)
		db.Close()
	}
	if err != nil {
		testserver.Unavailable(t, "no MySQL/MariaDB at SESSIONKIT_MYSQL_DSN or 127.0.0.1:3306: %v", err)
	}
	return dsn
}

// testRoutes runs the route sequence on a demo started with args.
func testRoutes(t *testing.T, args []string) {
	t.Helper()
	o, err := parseOptions(args, func(string) string { return "" }, io.Discard)
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
	client := &http.Client{Jar: jar, Timeout: time.Minute}
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
}

// TestLoginRace is the login race of issue 10 on every framework and
// store: a request that still carries the pre-login cookie and is answered
// after the login (POST /api/set) must not get a Set-Cookie for the
// session cookie, which would log the user out.
func TestLoginRace(t *testing.T) {
	for _, st := range demoStores(t) {
		for _, fw := range frameworkList() {
			t.Run(st.name+"/"+fw, func(t *testing.T) {
				testLoginRace(t, append([]string{"-framework", fw}, st.args(t)...))
			})
		}
	}
}

// testLoginRace runs the login race on a demo started with args.
func testLoginRace(t *testing.T, args []string) {
	t.Helper()
	o, err := parseOptions(args, func(string) string { return "" }, io.Discard)
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
	srv.Client().Timeout = time.Minute
	// call sends a request with the session cookie tok (none if "") and
	// returns the JSON answer and the session cookie set, if any.
	call := func(method, path, tok string) (map[string]any, *http.Cookie) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if tok != "" {
			req.AddCookie(&http.Cookie{Name: o.cookieName, Value: tok})
		}
		resp, err := srv.Client().Do(req)
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
		for _, c := range resp.Cookies() {
			if c.Name == o.cookieName {
				return v, c
			}
		}
		return v, nil
	}
	_, pre := call("GET", "/api/count", "")
	if pre == nil {
		t.Fatal("GET /api/count set no session cookie")
	}
	_, post := call("POST", "/api/login?user=ann", pre.Value)
	if post == nil || post.Value == pre.Value {
		t.Fatal("POST /api/login did not renew the session cookie")
	}
	if _, c := call("POST", "/api/set?key=k&value=v", pre.Value); c != nil {
		t.Errorf("POST /api/set with the pre-login cookie after the login set the session cookie (Max-Age %d); it replaces the logged-in one", c.MaxAge)
	}
	if got, _ := call("GET", "/api/whoami", post.Value); got["user"] != "ann" {
		t.Errorf("GET /api/whoami with the logged-in cookie = %v, want user ann", got)
	}
	if got, _ := call("GET", "/api/get?key=k", post.Value); got["found"] != false {
		t.Errorf("GET /api/get?key=k with the logged-in cookie = %v; the pre-login request's write must not reach the new session", got)
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
	o, err := parseOptions([]string{"-store", "file"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.framework != "gin" || o.idleTimeout.String() != "5m0s" || !o.secure || o.header != "X-Session-Token" || o.store != "file" || o.addr != "127.0.0.1:8080" {
		t.Errorf("parseOptions = %+v", o)
	}
	if _, err := parseOptions([]string{"-nope"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
	if _, _, err := newApp(context.Background(), options{framework: "nethttp", store: "nope"}, slog.Default()); err == nil {
		t.Error("unknown store accepted")
	}
}

// TestCrossOriginProtection: a browser's cross-site POST is refused before
// it reaches the session; a same-origin one and a client that sends no
// Origin (curl, API clients) pass.
func TestCrossOriginProtection(t *testing.T) {
	for _, fw := range frameworkList() {
		t.Run(fw, func(t *testing.T) {
			h, closeStore, err := newApp(context.Background(), options{framework: fw, store: "memory", codec: "binary"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			srv := httptest.NewServer(h)
			defer srv.Close()
			for _, c := range []struct {
				name   string
				header map[string]string
				want   int
			}{
				{"no Origin (API client)", nil, http.StatusOK},
				{"same origin", map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}, http.StatusOK},
				{"cross-site form", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
				{"cross origin without Sec-Fetch-Site", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
			} {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/login?user=mallory", nil)
				for k, v := range c.header {
					req.Header.Set(k, v)
				}
				resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Errorf("%s: POST /api/login = %d, want %d", c.name, resp.StatusCode, c.want)
				}
				if c.want == http.StatusForbidden && len(resp.Cookies()) != 0 {
					t.Errorf("%s: a refused request set cookies %v", c.name, resp.Cookies())
				}
			}
		})
	}
}

// TestUsageListsEnvironment: -h names the environment variable of every flag.
func TestUsageListsEnvironment(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, io.Discard, &out); err != nil {
		t.Fatalf("run -h = %v", err)
	}
	for _, v := range []string{"SESSIONKIT_ADDR", "SESSIONKIT_STORE_ADDR", "SESSIONKIT_COOKIE_KEYS", "SESSIONKIT_SIGNING_KEY", "SESSIONKIT_CODEC", "SESSIONKIT_FRAMEWORK"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("-h output lacks %s:\n%s", v, out.String())
		}
	}
}

// TestCookieKeyGenerated: -store cookie without keys generates one, prints
// it, and the printed key opens the sessions after a restart.
func TestCookieKeyGenerated(t *testing.T) {
	var out bytes.Buffer
	o := options{framework: "nethttp", store: "cookie", codec: "binary", stdout: &out}
	h, closeStore, err := newApp(context.Background(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	_, key, ok := strings.Cut(strings.TrimSpace(out.String()), "SESSIONKIT_COOKIE_KEYS=")
	if !ok {
		t.Fatalf("no generated key printed: %q", out.String())
	}
	login := httptest.NewRecorder()
	h.ServeHTTP(login, httptest.NewRequest(http.MethodPost, "/api/login?user=ann", nil))
	cookies := login.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies", len(cookies))
	}
	restarted, closeStore2, err := newApp(context.Background(), options{framework: "nethttp", store: "cookie", codec: "binary", cookieKeys: key}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore2()
	req := httptest.NewRequest(http.MethodGet, "/api/whoami", nil)
	req.AddCookie(cookies[0])
	rec := httptest.NewRecorder()
	restarted.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `"ann"`) {
		t.Errorf("after a restart with the printed key, whoami = %s, want ann", rec.Body.String())
	}
	if _, _, err := newApp(context.Background(), options{framework: "nethttp", store: "cookie", codec: "binary", cookieKeys: "c2hvcnQ"}, slog.Default()); err == nil || strings.Contains(err.Error(), "c2hvcnQ") {
		t.Errorf("a short key: err = %v, want an error without the key", err)
	}
}
