package echosession_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sessionkit/sessionkit/adapters/echosession"
	"github.com/sessionkit/sessionkit/core"
	"github.com/sessionkit/sessionkit/stores/memory"
)

func ExampleMiddleware() {
	store := memory.New(memory.Config{})
	defer store.Close()
	m, err := core.New(core.Config{Store: store})
	if err != nil {
		panic(err)
	}

	e := echo.New()
	e.HideBanner = true
	e.Use(echosession.Middleware(m))
	e.GET("/visit", func(c echo.Context) error {
		s := echosession.Get(c)
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1) // no Save: committed before the header leaves
		return c.JSON(http.StatusOK, map[string]int{"visit": n + 1})
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	var cookie *http.Cookie
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/visit", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		for _, c := range resp.Cookies() {
			cookie = c
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.Status, strings.TrimSpace(string(body)), "| Vary:", resp.Header.Get("Vary"), "| HttpOnly:", cookie.HttpOnly)
	}
	// Output:
	// 200 OK {"visit":1} | Vary: Cookie | HttpOnly: true
	// 200 OK {"visit":2} | Vary: Cookie | HttpOnly: true
	// 200 OK {"visit":3} | Vary: Cookie | HttpOnly: true
}

func ExampleMiddlewareWithConfig() {
	store := memory.New(memory.Config{})
	defer store.Close()
	m, err := core.New(core.Config{Store: store})
	if err != nil {
		panic(err)
	}

	e := echo.New()
	e.Use(echosession.MiddlewareWithConfig(echosession.Config{
		Manager: m,
		// Static files need no session.
		Skipper: func(c echo.Context) bool { return strings.HasPrefix(c.Path(), "/static/") },
	}))
	e.GET("/static/*", func(c echo.Context) error { return c.String(http.StatusOK, "asset") })
	e.GET("/login", func(c echo.Context) error {
		echosession.Get(c).Set("user", "gopher")
		return c.Redirect(http.StatusSeeOther, "/")
	})

	for _, path := range []string{"/static/app.css", "/login"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, rec.Code, "session cookie:", len(rec.Result().Cookies()) == 1)
	}
	// Output:
	// /static/app.css 200 session cookie: false
	// /login 303 session cookie: true
}
