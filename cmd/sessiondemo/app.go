package main

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"github.com/sessionkit/sessionkit/core"
)

// handler is a framework-neutral route handler; each framework's mount
// passes it the request's session.
type handler func(w http.ResponseWriter, r *http.Request, s *core.Session)

// route is one route of the demo, served identically on every framework.
type route struct {
	method, path string
	h            handler
}

// routes are the demo's routes, answering for m. An external black-box
// suite drives them: keep paths, methods and JSON shapes exactly as they
// are.
func routes(m *core.Manager) []route {
	return append([]route{
		{http.MethodGet, "/", func(w http.ResponseWriter, r *http.Request, s *core.Session) { page(m, w, r, s) }},
		{http.MethodGet, "/api/count", count},
		{http.MethodPost, "/api/set", set},
		{http.MethodGet, "/api/get", get},
		{http.MethodPost, "/api/login", login},
		{http.MethodPost, "/api/logout", logout},
		{http.MethodGet, "/api/whoami", whoami},
		{http.MethodPost, "/api/flash", flash},
		{http.MethodGet, "/api/flashes", flashes},
	}, sessionRoutes(m)...)
}

func increment(s *core.Session) int {
	n, _ := core.Value[int](s, "count")
	n++
	s.Set("count", n)
	return n
}

func count(w http.ResponseWriter, r *http.Request, s *core.Session) {
	writeJSON(w, map[string]any{"count": increment(s)})
}

func set(w http.ResponseWriter, r *http.Request, s *core.Session) {
	key := r.FormValue("key")
	if key == "" {
		http.Error(w, `{"error":"key is required"}`, http.StatusBadRequest)
		return
	}
	s.Set(key, r.FormValue("value"))
	writeJSON(w, map[string]any{"ok": true})
}

func get(w http.ResponseWriter, r *http.Request, s *core.Session) {
	key := r.FormValue("key")
	v, found := core.Value[string](s, key)
	writeJSON(w, map[string]any{"key": key, "value": v, "found": found})
}

func login(w http.ResponseWriter, r *http.Request, s *core.Session) {
	user := strings.TrimSpace(r.FormValue("user"))
	if user == "" {
		http.Error(w, `{"error":"user is required"}`, http.StatusBadRequest)
		return
	}
	s.Renew()       // a new token at every change of privilege
	s.SetUser(user) // files the session under the user: "Your sessions"
	s.Set("user", user)
	s.AddFlash("Welcome, " + user + "!")
	respond(w, r, map[string]any{"ok": true, "user": user})
}

func logout(w http.ResponseWriter, r *http.Request, s *core.Session) {
	s.Destroy() // also ends the session's filing under its user
	respond(w, r, map[string]any{"ok": true})
}

func whoami(w http.ResponseWriter, r *http.Request, s *core.Session) {
	user, _ := core.Value[string](s, "user")
	writeJSON(w, map[string]any{"user": user})
}

func flash(w http.ResponseWriter, r *http.Request, s *core.Session) {
	msg := r.FormValue("msg")
	if msg == "" {
		http.Error(w, `{"error":"msg is required"}`, http.StatusBadRequest)
		return
	}
	s.AddFlash(msg)
	respond(w, r, map[string]any{"ok": true})
}

func flashes(w http.ResponseWriter, r *http.Request, s *core.Session) {
	list := s.Flashes()
	if list == nil {
		list = []string{}
	}
	writeJSON(w, map[string]any{"flashes": list})
}

// respond answers an HTML form post with a redirect to the page, and any
// other client with JSON.
func respond(w http.ResponseWriter, r *http.Request, v any) {
	if wantsHTML(r) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	writeJSON(w, v)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func page(m *core.Manager, w http.ResponseWriter, r *http.Request, s *core.Session) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	user, _ := core.Value[string](s, "user")
	data := struct {
		Count    int
		User     string
		Flashes  []string
		Sessions *sessionsView
	}{increment(s), user, s.Flashes(), newSessionsView(m, r, s)}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTemplate.Execute(w, data)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>sessionkit demo</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;line-height:1.5}
.flash{background:#e6f4ea;border:1px solid #8bc59c;padding:.5rem;margin:.5rem 0}
form{margin:1rem 0} input{padding:.3rem}
</style></head>
<body>
<h1>sessionkit demo</h1>
{{range .Flashes}}<p class="flash">{{.}}</p>{{end}}
<p>Visits in this session: <strong id="count">{{.Count}}</strong></p>
{{if .User}}<p>Logged in as <strong id="user">{{.User}}</strong></p>
<form method="post" action="/api/logout"><button id="logout">Log out</button></form>
{{template "sessions" .Sessions}}
{{else}}<p id="user-none">Not logged in.</p>
<form method="post" action="/api/login"><input name="user" id="user-input" placeholder="name"> <button id="login">Log in</button></form>
{{end}}
<form method="post" action="/api/flash"><input name="msg" id="flash-input" placeholder="message"> <button id="flash">Add flash</button></form>
</body></html>
`))
