package conformance

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/sessionkit/sessionkit/core"
)

const ruleUserAdapter = "a user's sessions are listed and ended through the request's session (Session.SetUser, User, ID): EndSession and EndUserSessions end them for good and keep the current one"

// adapterUserHandler serves the user-session routes of the check:
// /login?user=U (Renew, SetUser; answers the public id), /sessions (the
// user's session ids, sorted, the current one marked "*"), /end?id=ID,
// /end-others and /whoami.
func adapterUserHandler(e *adapterEnv) Handler {
	return func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		ctx, q := r.Context(), r.URL.Query()
		var body string
		var err error
		switch r.URL.Path {
		case "/login":
			s.Renew()
			s.SetUser(q.Get("user"))
			s.Set("in", true)
			body = s.ID()
		case "/sessions":
			var list []core.SessionInfo
			list, err = e.m.UserSessions(ctx, s.User())
			var ids []string
			for _, si := range list {
				if si.ID == s.ID() {
					ids = append(ids, "*"+si.ID)
				} else {
					ids = append(ids, si.ID)
				}
			}
			slices.Sort(ids)
			body = strings.Join(ids, ",")
		case "/end":
			var ok bool
			ok, err = e.m.EndSession(ctx, s.User(), q.Get("id"))
			body = fmt.Sprint(ok)
		case "/end-others":
			var n int
			n, err = e.m.EndUserSessions(ctx, s.User(), s.ID())
			body = fmt.Sprint(n)
		case "/whoami":
			body = s.User()
			if body == "" {
				body = "-"
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, body)
	}
}

func adapterCheckUserSessions(e *adapterEnv) error {
	if err := e.start(core.Config{}, adapterUserHandler(e)); err != nil {
		return err
	}
	login := func(user string) (tok, id string, err error) {
		r, err := e.get("/login?user="+user, "")
		if err != nil {
			return "", "", err
		}
		if err := r.wantStatus(http.StatusOK, ruleUserAdapter); err != nil {
			return "", "", err
		}
		if !r.sent || r.token == "" || r.body == "" {
			return "", "", adapterViolation(r.call, "no token or no id", "a logged-in session and its id", ruleUserAdapter)
		}
		return r.token, r.body, nil
	}
	want := func(path, tok, body string) error {
		r, err := e.get(path, tok)
		if err != nil {
			return err
		}
		return r.wantOK(body, ruleUserAdapter)
	}
	a, idA, err := login("ann")
	if err != nil {
		return err
	}
	b, idB, err := login("ann")
	if err != nil {
		return err
	}
	c, idC, err := login("bob")
	if err != nil {
		return err
	}
	mine := []string{"*" + idA, idB}
	slices.Sort(mine)
	steps := []struct{ path, tok, body string }{
		{"/sessions", a, strings.Join(mine, ",")},
		{"/end?id=" + idC, a, "false"}, // another user's session
		{"/whoami", c, "bob"},
		{"/end?id=" + idB, a, "true"},
		{"/whoami", b, "-"},
		{"/sessions", a, "*" + idA},
	}
	for _, st := range steps {
		if err := want(st.path, st.tok, st.body); err != nil {
			return err
		}
	}
	b2, _, err := login("ann")
	if err != nil {
		return err
	}
	for _, st := range []struct{ path, tok, body string }{
		{"/end-others", a, "1"},
		{"/whoami", b2, "-"},
		{"/whoami", a, "ann"},
		{"/whoami", c, "bob"},
		{"/sessions", a, "*" + idA},
	} {
		if err := want(st.path, st.tok, st.body); err != nil {
			return err
		}
	}
	return nil
}
