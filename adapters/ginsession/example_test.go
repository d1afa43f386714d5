package ginsession_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/sessionkit/sessionkit/adapters/ginsession"
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

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.GET("/visit", func(c *gin.Context) {
		s := ginsession.Get(c)
		n, _ := core.Value[int](s, "visits")
		s.Set("visits", n+1) // no Save: committed before the header leaves
		c.JSON(http.StatusOK, gin.H{"visit": n + 1})
	})
	srv := httptest.NewServer(r)
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
		fmt.Println(resp.Status, string(body), "| Vary:", resp.Header.Get("Vary"), "| HttpOnly:", cookie.HttpOnly)
	}
	// Output:
	// 200 OK {"visit":1} | Vary: Cookie | HttpOnly: true
	// 200 OK {"visit":2} | Vary: Cookie | HttpOnly: true
	// 200 OK {"visit":3} | Vary: Cookie | HttpOnly: true
}
