package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSessionRoutes drives GET /api/sessions, POST /api/sessions/end and
// POST /api/logout-others on every framework and every store, as a client
// sees them: exact field names and status codes, 404 alike for another
// user's id and an unknown one, an ended session's next request logged
// out, and "log out everywhere else" leaving only the current session.
func TestSessionRoutes(t *testing.T) {
	for _, st := range demoStores(t) {
		for _, fw := range frameworkList() {
			t.Run(st.name+"/"+fw, func(t *testing.T) {
				testSessionRoutes(t, append([]string{"-framework", fw}, st.args(t)...), st.name != "cookie")
			})
		}
	}
	t.Run("json-codec-signed", func(t *testing.T) {
		testSessionRoutes(t, []string{"-codec", "json", "-signing-key", base64.StdEncoding.EncodeToString(make([]byte, 32))}, true)
	})
	t.Run("cookie-json-codec", func(t *testing.T) {
		testSessionRoutes(t, []string{"-store", "cookie", "-codec", "json"}, false)
	})
}

// startDemo serves the demo started with args until the test ends.
func startDemo(t *testing.T, args []string) *httptest.Server {
	t.Helper()
	o, err := parseOptions(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	h, closeStore, err := newApp(context.Background(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); closeStore() })
	srv.Client().Timeout = time.Minute // a hung handler fails the test instead of hanging it
	return srv
}

// device is one API client of the demo: its own cookie jar and User-Agent.
type device struct {
	t    *testing.T
	srv  *httptest.Server
	ua   string
	http *http.Client
}

func newDevice(t *testing.T, srv *httptest.Server, ua string) *device {
	jar, _ := cookiejar.New(nil)
	return &device{t: t, srv: srv, ua: ua, http: &http.Client{Jar: jar, Timeout: time.Minute}}
}

// do sends the request and returns the status and the body.
func (d *device) do(method, path string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequest(method, d.srv.URL+path, nil)
	req.Header.Set("User-Agent", d.ua)
	resp, err := d.http.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		d.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return resp.StatusCode, string(body)
}

// expect sends the request and checks that it answers status and, decoded,
// want (a JSON text).
func (d *device) expect(method, path string, status int, want string) {
	d.t.Helper()
	gotStatus, body := d.do(method, path)
	if gotStatus != status || !jsonEqual(body, want) {
		d.t.Errorf("%s %s (%s) = %d %s, want %d %s", method, path, d.ua, gotStatus, strings.TrimSpace(body), status, want)
	}
}

func jsonEqual(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// listed is one entry of GET /api/sessions, every field checked.
type listed struct {
	ID, UserAgent     string
	Current           bool
	Created, LastSeen time.Time
}

// sessionFields are the exact fields of an entry of GET /api/sessions.
var sessionFields = []string{"created", "current", "id", "last_seen", "user_agent"}

// sessions lists the device's sessions, checking the answer's shape: the
// one field "sessions", each entry exactly sessionFields with their types,
// RFC 3339 times between since and now, distinct ids.
func (d *device) sessions(since time.Time) []listed {
	d.t.Helper()
	status, body := d.do("GET", "/api/sessions")
	if status != http.StatusOK {
		d.t.Fatalf("GET /api/sessions (%s) = %d %s", d.ua, status, body)
	}
	var top map[string][]map[string]any
	if err := json.Unmarshal([]byte(body), &top); err != nil || len(top) != 1 || top["sessions"] == nil {
		d.t.Fatalf(`GET /api/sessions (%s) = %s, want {"sessions":[…]} (err %v)`, d.ua, body, err)
	}
	var out []listed
	ids := map[string]bool{}
	for _, e := range top["sessions"] {
		if keys := slices.Sorted(maps.Keys(e)); !slices.Equal(keys, sessionFields) {
			d.t.Fatalf("GET /api/sessions entry fields = %v, want %v", keys, sessionFields)
		}
		var l listed
		var ok [5]bool
		l.ID, ok[0] = e["id"].(string)
		l.Current, ok[1] = e["current"].(bool)
		l.UserAgent, ok[2] = e["user_agent"].(string)
		created, _ := e["created"].(string)
		lastSeen, _ := e["last_seen"].(string)
		var err1, err2 error
		l.Created, err1 = time.Parse(time.RFC3339, created)
		l.LastSeen, err2 = time.Parse(time.RFC3339, lastSeen)
		ok[3], ok[4] = err1 == nil, err2 == nil
		if ok != [5]bool{true, true, true, true, true} || l.ID == "" || ids[l.ID] {
			d.t.Fatalf("GET /api/sessions entry %v: wrong types, an empty or repeated id, or times not RFC 3339", e)
		}
		ids[l.ID] = true
		lo, hi := since.Truncate(time.Second), time.Now().Add(time.Second)
		if l.Created.Before(lo) || l.Created.After(hi) || l.LastSeen.Before(lo) || l.LastSeen.After(hi) {
			d.t.Errorf("GET /api/sessions entry %v: created or last_seen outside [%v, %v]", e, lo, hi)
		}
		out = append(out, l)
	}
	return out
}

// current returns the device's own session in the list.
func (d *device) current(since time.Time) listed {
	d.t.Helper()
	for _, l := range d.sessions(since) {
		if l.Current {
			return l
		}
	}
	d.t.Fatalf("GET /api/sessions (%s) lists no current session", d.ua)
	return listed{}
}

// checkList checks that list holds exactly the sessions of devs (by their
// User-Agent), the first of them current.
func checkList(t *testing.T, what string, list []listed, devs ...*device) {
	t.Helper()
	var got, want []string
	for i, l := range list {
		got = append(got, l.UserAgent)
		if l.Current != (i == 0) {
			t.Errorf("%s: entry %d (%s) current = %v; want only the first entry current", what, i, l.UserAgent, l.Current)
		}
	}
	for _, d := range devs {
		want = append(want, d.ua)
	}
	if len(got) == 0 || len(want) == 0 || got[0] != want[0] || !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("%s: listed user agents %q, want %q (the first current)", what, got, want)
	}
}

// testUser returns a user name no other test run shares (the SQL tables
// outlive a run).
func testUser(name string) string { return name + "-" + rand.Text()[:8] }

// testSessionRoutes runs the sequence on a demo started with args;
// listable is false for the cookie store, which lists only the current
// session and answers 404 for every other id.
func testSessionRoutes(t *testing.T, args []string, listable bool) {
	srv := startDemo(t, args)
	since := time.Now()
	ann, bob := testUser("ann"), testUser("bob")
	a, b, c := newDevice(t, srv, "agent-A/1.0"), newDevice(t, srv, "agent-B/2.0"), newDevice(t, srv, "agent-C/3.0")
	d, anon := newDevice(t, srv, "agent-D/4.0"), newDevice(t, srv, "agent-anon")

	// Without a login: an empty list, nothing to end.
	anon.expect("GET", "/api/count", 200, `{"count":1}`)
	anon.expect("GET", "/api/sessions", 200, `{"sessions":[]}`)
	anon.expect("POST", "/api/sessions/end?id=ABC", 404, `{"error":"no such session"}`)
	anon.expect("POST", "/api/logout-others", 200, `{"ended":0}`)

	a.expect("GET", "/api/count", 200, `{"count":1}`) // the session starts before the login
	for _, dev := range []*device{a, b} {
		dev.expect("POST", "/api/login?user="+ann, 200, `{"ok":true,"user":"`+ann+`"}`)
	}
	d.expect("POST", "/api/login?user="+bob, 200, `{"ok":true,"user":"`+bob+`"}`)
	a.expect("GET", "/api/count", 200, `{"count":2}`) // Renew kept the session's values

	aID, bID, dID := a.current(since).ID, b.current(since).ID, d.current(since).ID
	if listable {
		checkList(t, "A's list", a.sessions(since), a, b)
		checkList(t, "B's list", b.sessions(since), b, a)
	} else {
		checkList(t, "A's list (cookie store: only itself)", a.sessions(since), a)
	}
	checkList(t, "D's list", d.sessions(since), d)
	if a.current(since).ID != aID {
		t.Error("the current session's id changed between two requests")
	}

	// Another user's id and an unknown id answer the same 404.
	a.expect("POST", "/api/sessions/end?id="+dID, 404, `{"error":"no such session"}`)
	a.expect("POST", "/api/sessions/end?id=NOSUCHSESSIONID", 404, `{"error":"no such session"}`)
	a.expect("POST", "/api/sessions/end", 404, `{"error":"no such session"}`)
	_, other := a.do("POST", "/api/sessions/end?id="+dID)
	_, unknown := a.do("POST", "/api/sessions/end?id=NOSUCHSESSIONID")
	if other != unknown {
		t.Errorf("POST /api/sessions/end: another user's id answers %q, an unknown id %q; they must not differ", other, unknown)
	}
	d.expect("GET", "/api/whoami", 200, `{"user":"`+bob+`"}`)

	// End one session: B's next request is logged out.
	if listable {
		a.expect("POST", "/api/sessions/end?id="+bID, 200, `{"ok":true}`)
		b.expect("GET", "/api/whoami", 200, `{"user":""}`)
		b.expect("GET", "/api/sessions", 200, `{"sessions":[]}`)
		checkList(t, "A's list after ending B", a.sessions(since), a)
		a.expect("POST", "/api/sessions/end?id="+bID, 404, `{"error":"no such session"}`)
		b.expect("POST", "/api/login?user="+ann, 200, `{"ok":true,"user":"`+ann+`"}`)
	} else {
		// The server knows no session but the current one: B's id is as
		// unknown as any other.
		a.expect("POST", "/api/sessions/end?id="+bID, 404, `{"error":"no such session"}`)
		b.expect("GET", "/api/whoami", 200, `{"user":"`+ann+`"}`)
	}

	// Log out everywhere else: only A is left, bob's session untouched.
	c.expect("POST", "/api/login?user="+ann, 200, `{"ok":true,"user":"`+ann+`"}`)
	if listable {
		checkList(t, "A's list before logout-others", a.sessions(since), a, b, c)
		a.expect("POST", "/api/logout-others", 200, `{"ended":2}`)
	} else {
		a.expect("POST", "/api/logout-others", 200, `{"ended":0}`) // cookie store: ended, uncountable
	}
	for _, dev := range []*device{b, c} {
		dev.expect("GET", "/api/whoami", 200, `{"user":""}`)
		dev.expect("GET", "/api/sessions", 200, `{"sessions":[]}`)
	}
	a.expect("GET", "/api/whoami", 200, `{"user":"`+ann+`"}`)
	checkList(t, "A's list after logout-others", a.sessions(since), a)
	if got := a.current(since).ID; got != aID {
		t.Errorf("A's id after logout-others = %s, want %s", got, aID)
	}
	a.expect("POST", "/api/logout-others", 200, `{"ended":0}`)
	d.expect("GET", "/api/whoami", 200, `{"user":"`+bob+`"}`)
	checkList(t, "D's list after ann's logout-others", d.sessions(since), d)

	// Ending the current session is a logout.
	if listable {
		a.expect("POST", "/api/sessions/end?id="+aID, 200, `{"ok":true}`)
		a.expect("GET", "/api/whoami", 200, `{"user":""}`)
		a.expect("GET", "/api/sessions", 200, `{"sessions":[]}`)
	}
}

// TestSessionEndedUnderLoad: while the ended device keeps sending requests
// that write to its session (8 goroutines, for a second), "log out
// everywhere else" and ending it by id both hold: no request revives the
// session, it never shows in the list again, and its token stays logged
// out. On every server-side store.
func TestSessionEndedUnderLoad(t *testing.T) {
	for _, st := range demoStores(t) {
		if st.name == "cookie" {
			continue // the cookie store is covered by TestSessionRoutes; its revocation is the core's
		}
		t.Run(st.name, func(t *testing.T) {
			fw := frameworkList()[len(st.name)%len(frameworkList())] // spread the frameworks
			srv := startDemo(t, append([]string{"-framework", fw}, st.args(t)...))
			since := time.Now()
			ann := testUser("ann")
			a := newDevice(t, srv, "agent-A")
			a.expect("POST", "/api/login?user="+ann, 200, `{"ok":true,"user":"`+ann+`"}`)
			for _, how := range []string{"logout-others", "end"} {
				b := newDevice(t, srv, "agent-B-"+how)
				b.expect("POST", "/api/login?user="+ann, 200, `{"ok":true,"user":"`+ann+`"}`)
				bID := b.current(since).ID
				var token *http.Cookie
				for _, ck := range b.http.Jar.Cookies(srvURL(t, srv.URL)) {
					token = ck
				}
				stop := make(chan struct{})
				var wg sync.WaitGroup
				for g := range 8 {
					wg.Go(func() {
						path := "/api/count"
						if g%2 == 0 {
							path = "/api/set?key=k&value=v"
						}
						for {
							select {
							case <-stop:
								return
							default:
							}
							method := "GET"
							if g%2 == 0 {
								method = "POST"
							}
							req, _ := http.NewRequest(method, srv.URL+path, nil)
							req.AddCookie(token) // always the old token, never a new one
							resp, err := srv.Client().Do(req)
							if err != nil {
								t.Error(err)
								return
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					})
				}
				time.Sleep(300 * time.Millisecond)
				if how == "end" {
					a.expect("POST", "/api/sessions/end?id="+bID, 200, `{"ok":true}`)
				} else {
					a.expect("POST", "/api/logout-others", 200, `{"ended":1}`)
				}
				time.Sleep(700 * time.Millisecond)
				close(stop)
				wg.Wait()
				checkList(t, how+": A's list after ending B under load", a.sessions(since), a)
				req, _ := http.NewRequest("GET", srv.URL+"/api/whoami", nil)
				req.AddCookie(token)
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !jsonEqual(string(body), `{"user":""}`) {
					t.Errorf("%s: the ended session's token after the load: whoami = %s, want logged out", how, body)
				}
			}
		})
	}
}
