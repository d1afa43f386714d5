// Command bareserver serves the demo's /api/whoami and /api/count routes
// with the same JSON shapes as cmd/sessiondemo but without sessions, on
// net/http, Gin or Echo: the "without sessions" side of the load test.
//
//	bareserver -framework gin -addr 127.0.0.1:8081
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	framework := flag.String("framework", "nethttp", "nethttp, gin or echo")
	flag.Parse()
	h, err := handler(*framework)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bareserver:", err)
		os.Exit(2)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("bareserver: %s on http://%s/\n", *framework, *addr)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "bareserver:", err)
		os.Exit(1)
	}
}

// writeJSON answers like the demo's writeJSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func whoami(w http.ResponseWriter) { writeJSON(w, map[string]any{"user": ""}) }
func count(w http.ResponseWriter)  { writeJSON(w, map[string]any{"count": 1}) }

func handler(framework string) (http.Handler, error) {
	switch framework {
	case "nethttp":
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/whoami", func(w http.ResponseWriter, _ *http.Request) { whoami(w) })
		mux.HandleFunc("GET /api/count", func(w http.ResponseWriter, _ *http.Request) { count(w) })
		return mux, nil
	case "gin":
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		r.GET("/api/whoami", func(c *gin.Context) { whoami(c.Writer) })
		r.GET("/api/count", func(c *gin.Context) { count(c.Writer) })
		return r, nil
	case "echo":
		e := echo.New()
		e.HideBanner, e.HidePort = true, true
		e.GET("/api/whoami", func(c echo.Context) error { whoami(c.Response()); return nil })
		e.GET("/api/count", func(c echo.Context) error { count(c.Response()); return nil })
		return e, nil
	}
	return nil, fmt.Errorf("unknown framework %q (want nethttp, gin or echo)", framework)
}
