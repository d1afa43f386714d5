// Command sessiondemo serves a small web application that uses sessionkit:
// a visit counter, login and logout with token renewal, flash messages, a
// user's sessions (list them, end one, log out everywhere else), and a JSON
// API, identically on net/http, Gin, Echo v4 and Echo v5 and on every
// store.
//
//	go run ./cmd/sessiondemo                       # net/http, memory store, 127.0.0.1:8080
//	go run ./cmd/sessiondemo -framework gin -store redis -store-addr 127.0.0.1:6379
//	go run ./cmd/sessiondemo -store sqlite -store-addr sessions.db
//	go run ./cmd/sessiondemo -store mysql -store-dsn 'root@tcp(127.0.0.1:3306)/test'
//
//	go run ./cmd/sessiondemo -store cookie -codec json -signing-key "$(openssl rand -base64 32)"
//
//	go run ./cmd/sessiondemo -otel stdout       # spans and metrics on standard output, Prometheus /metrics
//	go run ./cmd/sessiondemo -otel prometheus   # Prometheus /metrics only
//
// GET /healthz is a readiness probe (Manager.Check): 200 when the store
// answers, 503 when it does not within the store timeout.
//
// Every flag can also be set with an environment variable, SESSIONKIT_ and
// the flag's name in capitals with "_" for "-" (SESSIONKIT_STORE_ADDR for
// -store-addr); -h lists them. State-changing requests from other origins
// are refused (http.CrossOriginProtection); clients that send no Origin
// header, such as curl and other API clients, are not affected.
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
	"strings"
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
	cookieKeys  string // -store cookie: base64 keys, comma-separated
	signingKeys string // base64 keys, comma-separated: sign the token
	codec       string // binary or json
	otel        string // "", stdout or prometheus
	stdout      io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sessiondemo:", err)
		os.Exit(1)
	}
}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("sessiondemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sessiondemo [flags]\n\nFlags, each also settable with the environment variable shown:\n")
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(stderr, "  -%s  (%s)\n    \t%s (default %q)\n", f.Name, envName(f.Name), f.Usage, f.DefValue)
		})
	}
	env := func(name, def string) string {
		if v := getenv(envPrefix + name); v != "" {
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
	fs.StringVar(&o.framework, "framework", env("FRAMEWORK", "nethttp"), "web framework: nethttp, gin, echo (Echo v4) or echov5")
	fs.StringVar(&o.store, "store", env("STORE", "memory"), "session store: "+storeNames())
	fs.StringVar(&o.storeAddr, "store-addr", env("STORE_ADDR", ""), "memcache or redis address(es), comma-separated; file store directory; SQLite database file")
	fs.StringVar(&o.storeDSN, "store-dsn", env("STORE_DSN", ""), "PostgreSQL or MySQL/MariaDB connection string")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", dur("IDLE_TIMEOUT", 30*time.Minute), "idle timeout (0: none)")
	fs.DurationVar(&o.lifetime, "lifetime", dur("LIFETIME", 24*time.Hour), "absolute session lifetime")
	fs.StringVar(&o.cookieName, "cookie-name", env("COOKIE_NAME", core.DefaultCookieName), "session cookie name")
	fs.BoolVar(&o.secure, "secure", secure, "mark the cookie Secure (serve over HTTPS)")
	fs.StringVar(&o.header, "header", env("HEADER", ""), `carry the token in this header instead of a cookie (e.g. "X-Session-Token")`)
	fs.StringVar(&o.cookieKeys, "cookie-keys", env("COOKIE_KEYS", ""), "-store cookie: comma-separated base64 AES-256 keys, newest first (generated and printed when empty)")
	fs.StringVar(&o.signingKeys, "signing-key", env("SIGNING_KEY", ""), "sign the session token with HMAC-SHA256: comma-separated base64 keys of 32+ bytes, newest first")
	fs.StringVar(&o.codec, "codec", env("CODEC", "binary"), "record encoding: binary or json")
	fs.StringVar(&o.otel, "otel", env("OTEL", ""), "OpenTelemetry: "+otelModes)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, nil
}

// envPrefix starts the name of every environment variable of the demo.
const envPrefix = "SESSIONKIT_"

// envName returns the environment variable of the flag name.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// codecs maps -codec values to codecs.
var codecs = map[string]core.Codec{"binary": core.BinaryCodec{}, "json": core.JSONCodec{}}

// newApp builds the demo's handler for o. close releases the store.
func newApp(ctx context.Context, o options, logger *slog.Logger) (h http.Handler, closeFn func(), err error) {
	if o.stdout == nil {
		o.stdout = io.Discard
	}
	codec, ok := codecs[o.codec]
	if !ok {
		return nil, nil, fmt.Errorf("unknown codec %q (want %s)", o.codec, names(codecs))
	}
	signing, err := decodeKeys(o.signingKeys, core.MinSigningKeySize, "-signing-key")
	if err != nil {
		return nil, nil, err
	}
	open, ok := storeOpeners[o.store]
	if !ok {
		return nil, nil, fmt.Errorf("unknown store %q (want %s)", o.store, storeNames())
	}
	mount, ok := frameworks[o.framework]
	if !ok {
		return nil, nil, fmt.Errorf("unknown framework %q (want %s)", o.framework, frameworkNames())
	}
	cfg := core.Config{
		Cookie:      http.Cookie{Name: o.cookieName, Secure: o.secure},
		Lifetime:    o.lifetime,
		IdleTimeout: o.idleTimeout,
		Header:      o.header,
		Codec:       codec,
		SigningKeys: signing,
		Logger:      logger,
		// "Your sessions" shows each session's browser: record the
		// User-Agent (and client address) when a session is created.
		RecordClientInfo: true,
	}
	tel, err := newTelemetry(o.otel, o.stdout)
	if err != nil {
		return nil, nil, err
	}
	if tel != nil {
		cfg.Observer = tel.observer
	}
	closeStore, err := open(ctx, o, &cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("store %s: %w", o.store, err)
	}
	m, err := core.New(cfg)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	// Browsers send Origin (or Sec-Fetch-Site) with every POST: a form on
	// another site cannot log a visitor in or out. Clients that send
	// neither, such as curl and other API clients, pass.
	h = withHealth(m, http.NewCrossOriginProtection().Handler(mount(m)))
	if tel == nil {
		return h, closeStore, nil
	}
	return tel.wrap(h), func() {
		closeStore()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.shutdown(shutdownCtx); err != nil {
			logger.Error("sessiondemo: telemetry shutdown", slog.Any("error", err))
		}
	}, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, os.Getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	o.stdout = stdout
	logger := slog.New(slog.NewTextHandler(stderr, nil))
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
	"echov5":  mountEchoV5,
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
