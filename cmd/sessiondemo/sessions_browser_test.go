package main

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestBrowserSessions: "Your sessions" in real Chromium, on every
// framework. Three browser contexts (separate cookie stores, like three
// devices) log in as the same user; the first lists two sessions and ends
// the second with its End button; the second's next page load is logged
// out; "Log out everywhere else" from the third leaves only itself, and
// the others' next page loads are logged out.
func TestBrowserSessions(t *testing.T) {
	exe := chromiumPath(t)
	var names []string
	for name := range frameworks {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, framework := range names {
		t.Run(framework, func(t *testing.T) { testBrowserSessions(t, exe, framework) })
	}
}

// tab is one browser context of the sessions test: its own cookies and
// User-Agent, one tab.
type tab struct {
	t    *testing.T
	ctx  context.Context
	name string
	base string
}

// newTab opens a page of base in a new browser context of the browser
// running in root, sending the User-Agent ua.
func newTab(t *testing.T, root context.Context, base, ua string) *tab {
	t.Helper()
	openCtx, cancelOpen := context.WithCancel(root)
	t.Cleanup(cancelOpen)
	ctx, cancel := chromedp.NewContext(openCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	setUA := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua})
		return chromedp.Void{}, err
	}
	// The first Run creates the tab, which lives as long as the context
	// of that Run: no timeout on it, only firstRun's bound.
	if err := firstRun(cancelOpen, func() error {
		return chromedp.Do(ctx, chromedp.Navigate("about:blank"))
	}); err != nil {
		t.Fatalf("%s: open a tab in a new browser context: %v", ua, err)
	}
	tb := &tab{t: t, ctx: ctx, name: ua, base: base}
	tb.do("open the page with User-Agent "+ua, setUA, chromedp.Navigate(base+"/"))
	return tb
}

func (tb *tab) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(tb.ctx, 20*time.Second)
}

func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	c, done := tb.step()
	defer done()
	if err := chromedp.Do(c, actions...); err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// eval returns the value of the JavaScript expression on the page.
func evalIn[T any](tb *tab, expr string) T {
	tb.t.Helper()
	c, done := tb.step()
	defer done()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, expr, err)
	}
	return v
}

// submit clicks the button sel of a form and waits for the page it leads to.
func (tb *tab) submit(what, sel string) {
	tb.t.Helper()
	c, done := tb.step()
	defer done()
	resp, err := chromedp.RunResponse(c, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
	if resp.Status != http.StatusOK || !strings.HasSuffix(resp.URL, "/") {
		tb.t.Fatalf("%s: %s: status %d at %s, want 200 at the page", tb.name, what, resp.Status, resp.URL)
	}
}

// reload loads the page again.
func (tb *tab) reload() {
	tb.t.Helper()
	c, done := tb.step()
	defer done()
	resp, err := chromedp.RunResponse(c, chromedp.Navigate(tb.base+"/"))
	if err != nil || resp.Status != http.StatusOK {
		tb.t.Fatalf("%s: load the page: %v (response %v)", tb.name, err, resp)
	}
}

// login logs in as user with the page's form.
func (tb *tab) login(user string) {
	tb.t.Helper()
	tb.do("type the user name", chromedp.SendKeys(chromedp.CSS("#user-input"), user))
	tb.submit("log in", "#login")
	if got := tb.user(); got != user {
		tb.t.Fatalf("%s: after login the page shows user %q, want %q", tb.name, got, user)
	}
}

// user returns the user the page shows, "" when it shows none.
func (tb *tab) user() string {
	tb.t.Helper()
	return evalIn[string](tb, `(document.querySelector('#user') || {textContent: ''}).textContent.trim()`)
}

// shownSession is one entry of the page's "Your sessions".
type shownSession struct {
	ID       string `json:"id"`
	Current  bool   `json:"current"`
	UA       string `json:"ua"`
	Seen     string `json:"seen"`
	HasEnd   bool   `json:"hasEnd"`
	EndForID bool   `json:"endForID"`
}

// sessions returns the page's "Your sessions" list.
func (tb *tab) sessions() []shownSession {
	tb.t.Helper()
	return evalIn[[]shownSession](tb, `[...document.querySelectorAll('#sessions li.session')].map(li => {
		const b = li.querySelector('button.end');
		return {
			id: li.dataset.id,
			current: li.classList.contains('current'),
			ua: (li.querySelector('.ua') || {textContent: ''}).textContent.trim(),
			seen: (li.querySelector('.seen') || {textContent: ''}).textContent.trim(),
			hasEnd: !!b,
			endForID: !!b && b.dataset.id === li.dataset.id && b.form.method === 'post' &&
				b.form.action.endsWith('/api/sessions/end?id=' + encodeURIComponent(li.dataset.id)),
		};
	})`)
}

// checkSessions checks that the page lists the tabs' sessions, current
// first (marked, no End button), each other one with its User-Agent, a
// last-seen time and an End button for its id.
func (tb *tab) checkSessions(what string, want ...*tab) []shownSession {
	tb.t.Helper()
	got := tb.sessions()
	var uas []string
	for _, s := range got {
		uas = append(uas, s.UA)
	}
	ok := len(got) == len(want) && len(got) > 0
	for i := 0; ok && i < len(got); i++ {
		s := got[i]
		ok = s.ID != "" && s.Current == (i == 0) && s.HasEnd == (i > 0) &&
			(i == 0 || s.EndForID && strings.HasSuffix(s.Seen, "UTC"))
	}
	if ok {
		ok = uas[0] == want[0].name
		for _, w := range want[1:] {
			ok = ok && slices.Contains(uas[1:], w.name)
		}
	}
	if !ok {
		var names []string
		for _, w := range want {
			names = append(names, w.name)
		}
		tb.t.Fatalf("%s: %s: the page lists %+v, want the sessions of %q, the first current without an End button, the others with last-seen time and an End button for their id", tb.name, what, got, names)
	}
	return got
}

func testBrowserSessions(t *testing.T, exe, framework string) {
	base := serveDemo(t, framework)
	allocCtx, cancelAlloc := newAllocator(t, exe)
	defer cancelAlloc()
	startCtx, cancelStart := context.WithCancel(allocCtx)
	defer cancelStart()
	root, cancel := chromedp.NewContext(startCtx)
	defer cancel()
	// The first Run starts the browser; each tab is a new browser context
	// in it, with cookies of its own.
	if err := firstRun(cancelStart, func() error {
		return chromedp.Do(root, chromedp.Navigate("about:blank"))
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	first := newTab(t, root, base, "device-one")
	second := newTab(t, root, base, "device-two")
	for _, tb := range []*tab{first, second} {
		if u := tb.user(); u != "" {
			t.Fatalf("%s: a new browser context is logged in as %q: the contexts share cookies", tb.name, u)
		}
		tb.login("ann")
	}

	// The first lists both sessions and ends the second.
	first.reload()
	list := first.checkSessions("two devices logged in", first, second)
	if second.sessions()[0].ID != list[1].ID {
		t.Fatalf("the second device's own id %q differs from the id the first lists for it %q", second.sessions()[0].ID, list[1].ID)
	}
	first.submit("end the second device's session", `#sessions button.end[data-id="`+list[1].ID+`"]`)
	first.checkSessions("after ending the second device", first)
	if u := first.user(); u != "ann" {
		t.Fatalf("%s: after ending another session the page shows user %q, want ann", first.name, u)
	}

	// The second's next page load is logged out.
	second.reload()
	if u := second.user(); u != "" {
		t.Fatalf("%s: after its session was ended the page shows user %q, want logged out", second.name, u)
	}
	if n := evalIn[int](second, `document.querySelectorAll('#user-none').length`); n != 1 {
		t.Fatalf("%s: after its session was ended the page lacks 'Not logged in.'", second.name)
	}

	// "Log out everywhere else" from a third context leaves only itself.
	second.login("ann")
	third := newTab(t, root, base, "device-three")
	third.login("ann")
	third.checkSessions("three devices logged in", third, first, second)
	shot := screenshot(t, third.ctx, framework+"-sessions")
	third.submit("log out everywhere else", "#logout-others")
	third.checkSessions("after log out everywhere else", third)
	if u := third.user(); u != "ann" {
		t.Fatalf("%s: after log out everywhere else the page shows user %q, want ann", third.name, u)
	}
	for _, tb := range []*tab{first, second} {
		tb.reload()
		if u := tb.user(); u != "" {
			t.Fatalf("%s: after log out everywhere else on another device the page shows user %q, want logged out", tb.name, u)
		}
	}
	third.reload()
	third.checkSessions("reloaded after log out everywhere else", third)
	t.Logf("screenshot of Your sessions with three devices: %s", shot)
}
