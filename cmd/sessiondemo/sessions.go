package main

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// A user's sessions (issue 11): login files the session under the user
// (Session.SetUser next to Renew), and these routes list the user's
// sessions, end one, or end all but the current one, through the Manager.
//
// The cookie store keeps sessions in the browsers, so nothing on the
// server can list them: there the list holds only the current session,
// POST /api/sessions/end answers 404 for any other id (the server knows
// none), and "log out everywhere else" works through the cookie store's
// revocation list, answering {"ended":0} because the sessions it ends
// cannot be counted (501 when the store has no revocation list). A
// server-side store that can neither list a user's sessions nor scan its
// records behaves the same way.

// sessionRoutes are the routes of a user's sessions, answering for m.
func sessionRoutes(m *core.Manager) []route {
	return []route{
		{http.MethodGet, "/api/sessions", func(w http.ResponseWriter, r *http.Request, s *core.Session) {
			listSessions(m, w, r, s)
		}},
		{http.MethodPost, "/api/sessions/end", func(w http.ResponseWriter, r *http.Request, s *core.Session) {
			endSession(m, w, r, s)
		}},
		{http.MethodPost, "/api/logout-others", func(w http.ResponseWriter, r *http.Request, s *core.Session) {
			logoutOthers(m, w, r, s)
		}},
	}
}

// sessionJSON is one entry of GET /api/sessions.
type sessionJSON struct {
	ID        string `json:"id"`
	Current   bool   `json:"current"`
	Created   string `json:"created"`   // RFC 3339, UTC
	LastSeen  string `json:"last_seen"` // RFC 3339, UTC
	UserAgent string `json:"user_agent"`
}

// sessionList is a user's sessions as the page and GET /api/sessions show
// them: the current session first, then the others, most recently seen
// first. Complete is false when the store cannot list the others.
type sessionList struct {
	Sessions []core.SessionInfo
	Complete bool
}

// userSessions lists the sessions of the user of s; none when s has no
// user. The current session is always in the list: when the store cannot
// list (core.ErrNotSupported) or its index lost it (memcached may evict),
// it is described from s and the request.
func userSessions(m *core.Manager, r *http.Request, s *core.Session) (sessionList, error) {
	user := s.User()
	if user == "" {
		return sessionList{Complete: true}, nil
	}
	infos, err := m.UserSessions(r.Context(), user)
	complete := err == nil
	if err != nil && !errors.Is(err, core.ErrNotSupported) {
		return sessionList{}, err
	}
	id := s.ID()
	list := make([]core.SessionInfo, 1, len(infos)+1)
	list[0] = core.SessionInfo{
		ID: id, User: user, Created: s.CreatedAt(), LastSeen: time.Now(),
		Expires: s.Deadline(), UserAgent: truncate(r.UserAgent(), maxUserAgent),
	}
	for _, info := range infos {
		if info.ID == id {
			list[0] = info
			continue
		}
		list = append(list, info)
	}
	return sessionList{Sessions: list, Complete: complete}, nil
}

// maxUserAgent is the length at which the core truncates a recorded
// User-Agent (Config.RecordClientInfo); the current session's entry built
// from the request is cut the same way.
const maxUserAgent = 256

func truncate(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") // as the core cuts it
	}
	return s
}

// listSessions answers GET /api/sessions.
func listSessions(m *core.Manager, w http.ResponseWriter, r *http.Request, s *core.Session) {
	list, err := userSessions(m, r, s)
	if err != nil {
		serverError(m, w, r, "list sessions", err)
		return
	}
	out := make([]sessionJSON, 0, len(list.Sessions))
	for i, info := range list.Sessions {
		out = append(out, sessionJSON{
			ID:        info.ID,
			Current:   i == 0,
			Created:   rfc3339(info.Created),
			LastSeen:  rfc3339(info.LastSeen),
			UserAgent: info.UserAgent,
		})
	}
	writeJSON(w, map[string]any{"sessions": out})
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// errNoSuchSession is the one answer for an id that is unknown, ended, or
// another user's: the client learns nothing about which.
const errNoSuchSession = "no such session"

// endSession answers POST /api/sessions/end?id=ID: it ends the session ID
// of the same user. Ending the current session is a logout.
func endSession(m *core.Manager, w http.ResponseWriter, r *http.Request, s *core.Session) {
	id, user := r.FormValue("id"), s.User()
	if id == "" || user == "" {
		fail(w, r, s, http.StatusNotFound, errNoSuchSession)
		return
	}
	if id == s.ID() {
		s.Destroy()
		respond(w, r, map[string]any{"ok": true})
		return
	}
	ended, err := m.EndSession(r.Context(), user, id)
	switch {
	case errors.Is(err, core.ErrNotSupported), err == nil && !ended:
		// ErrNotSupported: the cookie store knows no session but the
		// current one, so every other id is unknown to the server.
		fail(w, r, s, http.StatusNotFound, errNoSuchSession)
	case err != nil:
		serverError(m, w, r, "end a session", err)
	default:
		respond(w, r, map[string]any{"ok": true})
	}
}

// logoutOthers answers POST /api/logout-others: it ends every session of
// the user but the current one. Without a user there is nothing to end.
func logoutOthers(m *core.Manager, w http.ResponseWriter, r *http.Request, s *core.Session) {
	n := 0
	if user := s.User(); user != "" {
		var err error
		n, err = m.EndUserSessions(r.Context(), user, s.ID())
		if errors.Is(err, core.ErrNotSupported) {
			fail(w, r, s, http.StatusNotImplemented, "the "+storeKind(m)+" cannot end a user's sessions")
			return
		}
		if err != nil {
			serverError(m, w, r, "end the other sessions", err)
			return
		}
	}
	respond(w, r, map[string]any{"ended": n})
}

// storeKind names the kind of store m uses, for messages.
func storeKind(m *core.Manager) string {
	if m.Config().ClientStore != nil {
		return "cookie store"
	}
	return "session store"
}

// fail answers a client error: a JSON {"error": msg} with status, or, for
// an HTML form, a flash message and a redirect to the page.
func fail(w http.ResponseWriter, r *http.Request, s *core.Session, status int, msg string) {
	if wantsHTML(r) {
		s.AddFlash(msg)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	writeJSON(w, map[string]string{"error": msg})
}

// serverError logs err (store errors name no token or key) and answers
// 500 without details.
func serverError(m *core.Manager, w http.ResponseWriter, r *http.Request, what string, err error) {
	m.LogError(r, fmt.Errorf("sessiondemo: %s: %w", what, err))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	writeJSON(w, map[string]string{"error": "the session store failed"})
}

// wantsHTML reports whether r comes from an HTML form of the page, which
// gets a redirect instead of JSON.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// sessionsView is the "Your sessions" part of the page.
type sessionsView struct {
	Items    []sessionItem
	Complete bool   // false: the store cannot list the other sessions
	Err      bool   // the store failed; the page says so
	Store    string // the kind of store, for the explanations
	Client   bool   // the cookie store: sessions live in the browsers
}

// sessionItem is one session in the page's list.
type sessionItem struct {
	ID, UserAgent, LastSeen string
	Current                 bool
}

// newSessionsView lists the user's sessions for the page; nil when s has
// no user. A failing store does not fail the page.
func newSessionsView(m *core.Manager, r *http.Request, s *core.Session) *sessionsView {
	if s.User() == "" {
		return nil
	}
	v := &sessionsView{Store: storeKind(m), Client: m.Config().ClientStore != nil}
	list, err := userSessions(m, r, s)
	if err != nil {
		m.LogError(r, fmt.Errorf("sessiondemo: list sessions: %w", err))
		v.Err = true
		return v
	}
	v.Complete = list.Complete
	for i, info := range list.Sessions {
		ua := info.UserAgent
		if ua == "" {
			ua = "unknown browser"
		}
		v.Items = append(v.Items, sessionItem{
			ID: info.ID, UserAgent: ua, Current: i == 0,
			LastSeen: info.LastSeen.UTC().Format("2006-01-02 15:04:05 UTC"),
		})
	}
	return v
}

// The "Your sessions" part of the page: the current session marked, the
// others with their user agent, last-seen time and an End button, and
// "Log out everywhere else". Every button is a form POSTing to the JSON
// routes, which answer a form with a redirect back to the page.
var _ = template.Must(pageTemplate.New("sessions").Parse(`{{if .}}<section id="sessions">
<h2>Your sessions</h2>
{{if .Err}}<p id="sessions-error">The {{.Store}} could not list your sessions.</p>
{{else}}<ul>
{{range .Items}}{{if .Current}}<li class="session current" data-id="{{.ID}}"><strong>This device</strong> · <span class="ua">{{.UserAgent}}</span></li>
{{else}}<li class="session other" data-id="{{.ID}}"><span class="ua">{{.UserAgent}}</span> · last seen <span class="seen">{{.LastSeen}}</span>
<form method="post" action="/api/sessions/end?id={{.ID}}" style="display:inline"><button class="end" data-id="{{.ID}}">End</button></form></li>
{{end}}{{end}}</ul>
{{if not .Complete}}<p id="sessions-partial">{{if .Client}}The cookie store keeps sessions in the browsers, so your other devices cannot be listed; “Log out everywhere else” still ends them.{{else}}The {{.Store}} cannot list a user's sessions; only this device is shown.{{end}}</p>{{end}}
{{end}}<form method="post" action="/api/logout-others"><button id="logout-others">Log out everywhere else</button></form>
</section>{{end}}`))
