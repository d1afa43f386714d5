package bench

import (
	"sync/atomic"
	"testing"

	gsessions "github.com/gorilla/sessions"
	"github.com/labstack/echo-contrib/session"
	"github.com/labstack/echo/v4"
	"github.com/quasoft/memstore"
)

// echoContribTarget mounts the scenario routes behind echo-contrib's
// session middleware on a gorilla store. Its handlers must call Save
// before writing.
func echoContribTarget(store gsessions.Store, closeFn func()) *target {
	var n atomic.Uint64
	e := echo.New()
	e.Use(session.Middleware(store))
	handle := func(path string, f func(s *gsessions.Session) []byte) {
		e.GET(path, func(c echo.Context) error {
			s, err := session.Get(gorillaName, c)
			if err != nil {
				return err
			}
			body := f(s)
			if body == nil {
				if err := s.Save(c.Request(), c.Response()); err != nil {
					return err
				}
				body = okBody
			}
			_, err = c.Response().Write(body)
			return err
		})
	}
	e.GET("/untouched", func(c echo.Context) error { _, err := c.Response().Write(okBody); return err })
	handle("/new", func(s *gsessions.Session) []byte { s.Values["user"] = "alice"; return nil })
	handle("/seed", func(s *gsessions.Session) []byte {
		for i, k := range seedKeys {
			s.Values[k] = seedValues[i]
		}
		return nil
	})
	handle("/read", func(s *gsessions.Session) []byte {
		v, _ := s.Values[readKey].(string)
		return readBody(v)
	})
	handle("/update", func(s *gsessions.Session) []byte { s.Values[readKey] = nextUpdate(&n); return nil })
	handle("/renew", func(s *gsessions.Session) []byte { gorillaRenew(s); return nil })
	return &target{h: e, cookie: gorillaName, close: closeFn}
}

var echoContribContenders = []contender{
	{name: "echocontrib-echo-cookie", framework: "echo", open: func(testing.TB) *target {
		return echoContribTarget(gsessions.NewCookieStore(hashKey, blockKey), func() {})
	}},
	{name: "echocontrib-echo-memstore", framework: "echo", memory: true, open: func(testing.TB) *target {
		return echoContribTarget(memstore.NewMemStore(hashKey), func() {})
	}},
}
