package bench

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-contrib/sessions/memcached"
	"github.com/gin-contrib/sessions/memstore"
	"github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	gsessions "github.com/gorilla/sessions"
)

// ginContribRenew clears the gorilla session id under the gin-contrib
// session so that Save issues a new one; gin-contrib's Session interface
// has no call for it.
func ginContribRenew(s sessions.Session) {
	if g, ok := s.(interface{ Session() *gsessions.Session }); ok {
		g.Session().ID = ""
	}
	s.Set("user", "alice")
}

// ginContribTarget mounts the scenario routes behind gin-contrib's
// middleware on store. Its handlers must call Save before writing.
func ginContribTarget(store sessions.Store, closeFn func()) *target {
	var n atomic.Uint64
	r := gin.New()
	r.Use(sessions.Sessions(gorillaName, store))
	save := func(c *gin.Context, s sessions.Session) {
		if err := s.Save(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		_, _ = c.Writer.Write(okBody)
	}
	r.GET("/untouched", func(c *gin.Context) { _, _ = c.Writer.Write(okBody) })
	r.GET("/new", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("user", "alice")
		save(c, s)
	})
	r.GET("/seed", func(c *gin.Context) {
		s := sessions.Default(c)
		for i, k := range seedKeys {
			s.Set(k, seedValues[i])
		}
		save(c, s)
	})
	r.GET("/read", func(c *gin.Context) {
		v, _ := sessions.Default(c).Get(readKey).(string)
		_, _ = c.Writer.Write(readBody(v))
	})
	r.GET("/update", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set(readKey, nextUpdate(&n))
		save(c, s)
	})
	r.GET("/renew", func(c *gin.Context) {
		s := sessions.Default(c)
		ginContribRenew(s)
		save(c, s)
	})
	return &target{h: r, cookie: gorillaName, close: closeFn}
}

var ginContribContenders = []contender{
	{name: "gincontrib-gin-cookie", framework: "gin", open: func(testing.TB) *target {
		return ginContribTarget(cookie.NewStore(hashKey, blockKey), func() {})
	}},
	{name: "gincontrib-gin-memstore", framework: "gin", memory: true, open: func(testing.TB) *target {
		return ginContribTarget(memstore.NewStore(hashKey), func() {})
	}},
	{name: "gincontrib-gin-redis", framework: "gin", open: func(tb testing.TB) *target {
		st, err := redis.NewStore(10, "tcp", serverAddr(tb, "redis"), "", "", hashKey)
		if err != nil {
			tb.Fatal(err)
		}
		return ginContribTarget(st, func() {})
	}},
	{name: "gincontrib-gin-memcached", framework: "gin", open: func(tb testing.TB) *target {
		return ginContribTarget(memcached.NewStore(memcache.New(serverAddr(tb, "memcached")), "session_", hashKey), func() {})
	}},
}
