// Command sessiondemo serves a small web application that uses sessionkit:
// a visit counter, login and logout with token renewal, flash messages, and
// a JSON API, identically on net/http, Gin and Echo and on every store.
//
//	go run ./cmd/sessiondemo                       # net/http, memory store, 127.0.0.1:8080
//	go run ./cmd/sessiondemo -framework gin -store redis -store-addr 127.0.0.1:6379
//
// Every flag can also be set with an environment variable: SESSIONKIT_ADDR,
// SESSIONKIT_FRAMEWORK, SESSIONKIT_STORE, SESSIONKIT_STORE_ADDR,
// SESSIONKIT_STORE_DSN, SESSIONKIT_IDLE_TIMEOUT, SESSIONKIT_LIFETIME,
// SESSIONKIT_COOKIE_NAME, SESSIONKIT_SECURE and SESSIONKIT_HEADER.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// options are the demo's settings, from flags and environment variables.
type options struct {
	addr        string
	framework   string
	store       string
	storeAddr   string
	storeDSN    string
	idleTimeout time.Duration
	lifetime    time.Duration
	cookieName  string
	secure      bool
	header      string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sessiondemo:", err)
		os.Exit(1)
	}
}

func parseOptions(args []string, getenv func(string) string) (options, error) {
	var o options
	fs := flag.NewFlagSet("sessiondemo", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv("SESSIONKIT_" + name); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		d, err := time.ParseDuration(env(name, def.String()))
		if err != nil {
			return def
		}
		return d
	}
	secure, _ := strconv.ParseBool(env("SECURE", "false"))
	fs.StringVar(&o.addr, "addr", env("ADDR", "127.0.0.1:8080"), "listen address")
	fs.StringVar(&o.framework, "framework", env("FRAMEWORK", "nethttp"), "web framework: nethttp, gin or echo")
	fs.StringVar(&o.store, "store", env("STORE", "memory"), "session store: "+storeNames())
	fs.StringVar(&o.storeAddr, "store-addr", env("STORE_ADDR", ""), "memcache or redis address(es), comma-separated; file store directory")
	fs.StringVar(&o.storeDSN, "store-dsn", env("STORE_DSN", ""), "PostgreSQL connection string")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", dur("IDLE_TIMEOUT", 30*time.Minute), "idle timeout (0: none)")
	fs.DurationVar(&o.lifetime, "lifetime", dur("LIFETIME", 24*time.Hour), "absolute session lifetime")
	fs.StringVar(&o.cookieName, "cookie-name", env("COOKIE_NAME", core.DefaultCookieName), "session cookie name")
	fs.BoolVar(&o.secure, "secure", secure, "mark the cookie Secure (serve over HTTPS)")
	fs.StringVar(&o.header, "header", env("HEADER", ""), `carry the token in this header instead of a cookie (e.g. "X-Session-Token")`)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, nil
}

// newApp builds the demo's handler for o. close releases the store.
func newApp(ctx context.Context, o options, logger *slog.Logger) (h http.Handler, closeFn func(), err error) {
	open, ok := storeOpeners[o.store]
	if !ok {
		return nil, nil, fmt.Errorf("unknown store %q (want %s)", o.store, storeNames())
	}
	mount, ok := frameworks[o.framework]
	if !ok {
		return nil, nil, fmt.Errorf("unknown framework %q (want %s)", o.framework, frameworkNames())
	}
	store, closeStore, err := open(ctx, o)
	if err != nil {
		return nil, nil, fmt.Errorf("store %s: %w", o.store, err)
	}
	m, err := core.New(core.Config{
		Store:       store,
		Cookie:      http.Cookie{Name: o.cookieName, Secure: o.secure},
		Lifetime:    o.lifetime,
		IdleTimeout: o.idleTimeout,
		Header:      o.header,
		Logger:      logger,
	})
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return mount(m), closeStore, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseOptions(args, os.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	h, closeStore, err := newApp(ctx, o, logger)
	if err != nil {
		return err
	}
	defer closeStore()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "sessiondemo: %s with the %s store on http://%s/\n", o.framework, o.store, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	}
}

// frameworks maps -framework values to the function mounting the routes.
var frameworks = map[string]func(m *core.Manager) http.Handler{
	"nethttp": mountNetHTTP,
	"gin":     mountGin,
	"echo":    mountEcho,
}

func frameworkNames() string { return names(frameworks) }
func storeNames() string     { return names(storeOpeners) }

func names[V any](m map[string]V) string {
	var list []string
	for k := range m {
		list = append(list, k)
	}
	sort.Strings(list)
	return fmt.Sprint(list)
}
