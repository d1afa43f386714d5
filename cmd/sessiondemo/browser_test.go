package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium binary, or skips the test (fails under
// SESSIONKIT_REQUIRE_BROWSER=1, as in CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found: install it (apt-get install -y chromium) to run the browser test"
	if os.Getenv("SESSIONKIT_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + " (SESSIONKIT_REQUIRE_BROWSER=1)")
	}
	t.Skip(msg)
	return ""
}

// serveDemo serves the demo for framework on a free 127.0.0.1 port.
func serveDemo(t *testing.T, framework string) string {
	t.Helper()
	o, err := parseOptions([]string{"-framework", framework}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	h, closeStore, err := newApp(context.Background(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		closeStore()
	})
	return "http://" + ln.Addr().String()
}

func TestBrowser(t *testing.T) {
	exe := chromiumPath(t)
	var names []string
	for name := range frameworks {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, framework := range names {
		t.Run(framework, func(t *testing.T) { testBrowser(t, exe, framework) })
	}
}

// newAllocator returns the allocator of a headless Chromium at exe with a
// fresh profile, reaching only 127.0.0.1.
func newAllocator(t *testing.T, exe string) (context.Context, context.CancelFunc) {
	return chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
	)
}

// firstRunTimeout bounds the first chromedp call on a chromedp context,
// the one that starts Chromium or opens a tab.
const firstRunTimeout = 2 * time.Minute

// firstRun runs first, the first chromedp call on a chromedp context made
// from a context that cancel cancels. That call cannot have a deadline of
// its own (the tab lives as long as the call's context), so cancel is
// called if first has not returned within firstRunTimeout, and firstRun
// then fails even if first returned no error. cancel must not be the
// chromedp context's own cancel function: that one may block when called a
// second time, by the test's deferred call.
func firstRun(cancel context.CancelFunc, first func() error) error {
	stop := time.AfterFunc(firstRunTimeout, cancel)
	err := first()
	if !stop.Stop() {
		return fmt.Errorf("gave up after %v (error: %v)", firstRunTimeout, err)
	}
	return err
}

func testBrowser(t *testing.T, exe, framework string) {
	base := serveDemo(t, framework)
	allocCtx, cancelAlloc := newAllocator(t, exe)
	defer cancelAlloc()
	startCtx, cancelStart := context.WithCancel(allocCtx)
	defer cancelStart()
	ctx, cancel := chromedp.NewContext(startCtx)
	defer cancel()
	// The first Run starts the browser; later steps get their own timeout.
	if err := firstRun(cancelStart, func() error {
		return chromedp.Do(ctx, chromedp.Navigate(base+"/"))
	}); err != nil {
		t.Fatalf("start Chromium and load the demo: %v", err)
	}
	step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 20*time.Second) }
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, done := step()
		defer done()
		if err := chromedp.Do(c, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		c, done := step()
		defer done()
		s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	count := func() int {
		t.Helper()
		n, err := strconv.Atoi(text("#count"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	sessionCookie := func() *network.Cookie {
		t.Helper()
		c, done := step()
		defer done()
		cookies, err := chromedp.Run(c, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
			res, err := cdpCall(ctx, tg, base)
			return res, err
		})
		if err != nil {
			t.Fatalf("read the browser's cookies: %v", err)
		}
		for _, ck := range cookies {
			if ck.Name == "session" {
				return ck
			}
		}
		return nil
	}
	submit := func(what, sel string) {
		t.Helper()
		c, done := step()
		defer done()
		resp, err := chromedp.RunResponse(c, chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if resp.Status != http.StatusOK {
			t.Fatalf("%s: status %d", what, resp.Status)
		}
	}

	// The counter counts across reloads.
	if n := count(); n != 1 {
		t.Fatalf("first visit: count = %d, want 1", n)
	}
	do("reload", chromedp.Reload())
	do("reload", chromedp.Reload())
	if n := count(); n != 3 {
		t.Fatalf("after two reloads: count = %d, want 3", n)
	}

	// The cookie is HttpOnly, SameSite=Lax, Path=/ in the browser's store.
	ck := sessionCookie()
	if ck == nil {
		t.Fatal("no session cookie in the browser's cookie store")
	}
	if !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteLax || ck.Path != "/" {
		t.Errorf("session cookie: HttpOnly=%v SameSite=%q Path=%q; want true, Lax, /", ck.HTTPOnly, ck.SameSite, ck.Path)
	}
	c, done := step()
	jsCookies, err := chromedp.Run(c, chromedp.Evaluate[string]("document.cookie"))
	done()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(jsCookies, "session=") || strings.Contains(jsCookies, ck.Value) {
		t.Errorf("document.cookie = %q exposes the session cookie", jsCookies)
	}

	// Login renews the cookie value; its flash shows once.
	before := ck.Value
	do("type the user name", chromedp.SendKeys(chromedp.CSS("#user-input"), "ann"))
	submit("log in", "#login")
	if u := text("#user"); u != "ann" {
		t.Fatalf("after login: user = %q, want ann", u)
	}
	if ck := sessionCookie(); ck == nil || ck.Value == before {
		t.Fatal("login did not renew the session cookie")
	}
	if f := text(".flash"); f != "Welcome, ann!" {
		t.Errorf("flash after login = %q", f)
	}
	shot := screenshot(t, ctx, framework)
	do("reload", chromedp.Reload())
	c, done = step()
	flashes, err := chromedp.Run(c, chromedp.Evaluate[int]("document.querySelectorAll('.flash').length"))
	done()
	if err != nil || flashes != 0 {
		t.Errorf("flash shown again after reload: %d flashes (err %v)", flashes, err)
	}

	// Logout removes the cookie and the counter starts over.
	submit("log out", "#logout")
	if ck := sessionCookie(); ck != nil {
		// The page after logout increments the counter of a new session,
		// so a new cookie is expected; it must not be the old one.
		if ck.Value == before {
			t.Error("logout kept the old session cookie")
		}
	}
	if n := count(); n != 1 {
		t.Errorf("after logout: count = %d, want 1 (a new session)", n)
	}
	if text("#user-none") == "" {
		t.Error("after logout the page still shows a user")
	}
	t.Logf("screenshot of the logged-in demo page: %s", shot)
}

// cdpCall reads the browser's cookies for url.
func cdpCall(ctx context.Context, tg *chromedp.Target, url string) ([]*network.Cookie, error) {
	res, err := cdpGetCookies(ctx, tg, url)
	if err != nil {
		return nil, errors.Join(errors.New("Network.getCookies"), err)
	}
	return res, nil
}

// screenshot saves a PNG of the page as a test artifact and returns its path.
func screenshot(t *testing.T, ctx context.Context, framework string) string {
	t.Helper()
	c, done := context.WithTimeout(ctx, 20*time.Second)
	defer done()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100)) // quality 100 gives a PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("SESSIONKIT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "sessiondemo-"+framework+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
