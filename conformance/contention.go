package conformance

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit/core"
)

// ruleContention is the promise the contention checks hold a store and
// the core to.
const ruleContention = "under sustained contention on one session every commit succeeds and no key is lost"

// ContentionOptions sizes TestContention. The zero value runs the issue's
// scale: 64 concurrent clients, each committing 16 distinct keys to one
// session, one request after the other (16 x 8 with go test -short), in
// one Manager and spread over 3 Managers.
type ContentionOptions struct {
	// Writers is the number of concurrent clients. Default: 64 (16 with
	// -short).
	Writers int
	// Keys is the number of requests each client makes, each setting a
	// key of its own. Default: 16 (8 with -short).
	Keys int
	// Managers is the number of Managers (each on its own instance of the
	// store, as separate application servers) the "Managers" subtest
	// spreads the clients over. Default: 3.
	Managers int
	// Configure, when set, adjusts every Manager configuration (its
	// timeouts, say) after the check's own settings.
	Configure func(cfg *core.Config)
	// Mount, when set, runs the clients over HTTP through this adapter
	// (one httptest.Server per Manager, real http.Client requests) instead
	// of calling the Managers in process.
	Mount Mount
}

// ContentionResult is what one contention run measured.
type ContentionResult struct {
	Writers, Keys, Managers int
	Failed                  int     // commits that returned an error
	Lost                    int     // keys missing from the session afterwards
	CASPerWrite             float64 // CompareAndSwap calls per successful commit
	FirstError              error   // the first failed commit's error, if any
}

// TestContention checks that the core, on this store, keeps its promise
// under pressure: Writers concurrent clients commit Keys distinct keys
// each, back to back, to one session, and not one commit fails and not
// one key is lost. Subtests: "OneManager" (all clients through one
// core.Manager on one instance) and "Managers" (the clients spread over
// Managers on different instances over one backend, as several
// application servers: conflicts between them are retried with backoff).
// newInstances is TestSharedStore's factory: n instances over one fresh,
// empty backend namespace. Each subtest logs the CompareAndSwap calls per
// successful write. Stores without core.CompareAndSwapper are skipped:
// their last writer wins by contract.
func TestContention(t *testing.T, newInstances func(t *testing.T, n int) []core.Store, opts ContentionOptions) {
	t.Helper()
	opts = opts.withDefaults()
	for _, sub := range []struct {
		name string
		n    int
	}{{"OneManager", 1}, {"Managers", opts.Managers}} {
		t.Run(sub.name, func(t *testing.T) {
			insts := newInstances(t, sub.n)
			if len(insts) != sub.n {
				t.Fatalf("conformance: TestContention: newInstances(%d) returned %d stores", sub.n, len(insts))
			}
			for _, s := range insts {
				if _, ok := s.(core.CompareAndSwapper); !ok {
					t.Skip("the store does not implement core.CompareAndSwapper: the last writer wins by contract")
				}
			}
			res, err := RunContention(insts, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d writers x %d keys over %d Manager(s): %.2f CompareAndSwap calls per successful write, %d failed, %d lost",
				res.Writers, res.Keys, res.Managers, res.CASPerWrite, res.Failed, res.Lost)
			if err := res.Err(); err != nil {
				t.Error(err)
			}
		})
	}
}

// withDefaults fills in the zero fields of o.
func (o ContentionOptions) withDefaults() ContentionOptions {
	if o.Writers == 0 {
		o.Writers = 64
		if testing.Short() {
			o.Writers = 16
		}
	}
	if o.Keys == 0 {
		o.Keys = 16
		if testing.Short() {
			o.Keys = 8
		}
	}
	if o.Managers == 0 {
		o.Managers = 3
	}
	return o
}

// Err returns the violation r shows, or nil.
func (r ContentionResult) Err() error {
	if r.Failed == 0 && r.Lost == 0 {
		return nil
	}
	return storeViolation(fmt.Sprintf("%d writers x %d keys on one session over %d Manager(s)", r.Writers, r.Keys, r.Managers),
		fmt.Sprintf("%d failed commits (first: %v), %d lost keys", r.Failed, r.FirstError, r.Lost), "0 failed, 0 lost", ruleContention)
}

// RunContention runs one contention round in process: one Manager per
// instance in insts, opts.Writers clients spread over them, each making
// opts.Keys requests that set a key of their own on one session. It
// returns what it measured; the error is reserved for a failure to set
// the round up. Benchmarks and RESULTS tables use it directly.
func RunContention(insts []core.Store, opts ContentionOptions) (ContentionResult, error) {
	opts = opts.withDefaults()
	res := ContentionResult{Writers: opts.Writers, Keys: opts.Keys, Managers: len(insts)}
	if len(insts) == 0 {
		return res, errors.New("conformance: RunContention: no store instances")
	}
	ms := make([]*core.Manager, len(insts))
	faulty := make([]*FaultyStore, len(insts))
	for i, st := range insts {
		faulty[i] = NewFaultyStore(st)
		cfg := core.Config{Store: faulty[i].Store()}
		if opts.Configure != nil {
			opts.Configure(&cfg)
		}
		m, err := core.New(cfg)
		if err != nil {
			return res, fmt.Errorf("conformance: core.New: %w", err)
		}
		ms[i] = m
	}
	send := contentionInProcess(ms)
	if opts.Mount != nil {
		var closeAll func()
		send, closeAll = contentionOverHTTP(ms, opts.Mount, opts.Writers)
		defer closeAll()
	}
	cookie, err := send(0, "", "base")
	if err != nil || cookie == "" {
		return res, storeViolation("a new session", fmt.Sprintf("cookie %q, error %v", cookie, err), "a session cookie", ruleContention)
	}
	for _, f := range faulty {
		f.ResetCalls()
	}
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := range opts.Writers {
		wg.Go(func() {
			for k := range opts.Keys {
				_, err := send(w%len(ms), cookie, contentionKey(w, k))
				if err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	cas := 0
	for _, f := range faulty {
		cas += f.Calls(OpCompareAndSwap)
	}
	res.Failed, res.FirstError = int(failed.Load()), firstErr
	res.CASPerWrite = float64(cas) / float64(max(opts.Writers*opts.Keys-res.Failed, 1))
	var keys []string
	_, err = sharedRequest(ms[0], cookie, func(s *core.Session) { keys = s.Keys() })
	if err != nil {
		return res, fmt.Errorf("conformance: reading the session back: %w", err)
	}
	have := make(map[string]bool, len(keys))
	for _, k := range keys {
		have[k] = true
	}
	for w := range opts.Writers {
		for k := range opts.Keys {
			if !have[contentionKey(w, k)] {
				res.Lost++
			}
		}
	}
	return res, nil
}

// contentionSend makes one request through Manager i presenting cookie
// ("name=value", none if "") that sets key, and returns the session
// cookie the response set (or "").
type contentionSend func(i int, cookie, key string) (string, error)

// contentionInProcess sends the requests straight to the Managers.
func contentionInProcess(ms []*core.Manager) contentionSend {
	return func(i int, cookie, key string) (string, error) {
		return sharedRequest(ms[i], cookie, func(s *core.Session) { s.Set(key, "1") })
	}
}

// contentionOverHTTP serves each Manager through mount and sends the
// requests with a real http.Client.
func contentionOverHTTP(ms []*core.Manager, mount Mount, conns int) (contentionSend, func()) {
	h := func(w http.ResponseWriter, r *http.Request, s *core.Session) {
		s.Set(r.URL.Query().Get("k"), "1")
		io.WriteString(w, "ok")
	}
	srvs := make([]*httptest.Server, len(ms))
	for i, m := range ms {
		srvs[i] = httptest.NewServer(mount(m, h))
	}
	tr := &http.Transport{MaxIdleConnsPerHost: conns}
	client := &http.Client{Transport: tr, Timeout: 2 * core.DefaultCommitTimeout}
	send := func(i int, cookie, key string) (string, error) {
		req, err := http.NewRequest(http.MethodPost, srvs[i].URL+"/set?k="+url.QueryEscape(key), nil)
		if err != nil {
			return "", err
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "ok" {
			return "", fmt.Errorf("POST /set?k=%s: status %d, body %q", key, resp.StatusCode, adapterShort(string(body)))
		}
		name := ms[i].Config().Cookie.Name
		for _, c := range resp.Cookies() {
			if c.Name == name && c.Value != "" {
				return c.Name + "=" + c.Value, nil
			}
		}
		return "", nil
	}
	return send, func() {
		tr.CloseIdleConnections()
		for _, s := range srvs {
			s.Close()
		}
	}
}

func contentionKey(w, k int) string { return fmt.Sprintf("w%03dk%03d", w, k) }
