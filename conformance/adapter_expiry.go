package conformance

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// adapterExpiryChecks check idle and absolute expiry with the injected clock.
var adapterExpiryChecks = []adapterCheck{
	{name: "IdleTimeout", run: adapterCheckIdle},
	{name: "IdleRefresh", run: adapterCheckIdleRefresh},
	{name: "AbsoluteLifetime", run: adapterCheckAbsolute},
}

// adapterExpiring starts the default handler with cfg and an OnExpired
// hook counting into expired. A client-side store cannot tell an expired
// token from an invalid one (core.ClientStore.Open), so the hook count is
// checked only for server-side stores.
func adapterExpiring(e *adapterEnv, cfg core.Config, expired *atomic.Int32) error {
	cfg.OnExpired = func(*http.Request, *core.Session) { expired.Add(1) }
	return e.start(cfg, adapterDefault)
}

// adapterReadAfter moves the clock by d, reads the session and requires want.
// The token follows the response, as a browser's would.
func adapterReadAfter(e *adapterEnv, d time.Duration, tok *string, want, rule string) (*adapterResp, error) {
	e.clock.Advance(d)
	r, err := e.get("/get", *tok)
	if err != nil {
		return nil, err
	}
	*tok = r.follow(*tok)
	r.call = fmt.Sprintf("%s at +%v", r.call, time.Duration(e.clock.offset.Load()))
	return r, r.wantOK(want, rule)
}

const ruleIdle = "a session not used for IdleTimeout expires (and OnExpired is called); a used one persists"

func adapterCheckIdle(e *adapterEnv) error {
	var expired atomic.Int32
	if err := adapterExpiring(e, core.Config{IdleTimeout: 30 * time.Minute}, &expired); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	for _, d := range []time.Duration{20 * time.Minute, 20 * time.Minute, 29 * time.Minute} {
		if _, err := adapterReadAfter(e, d, &tok, "new=false a=1", ruleIdle); err != nil {
			return err
		}
	}
	if n := expired.Load(); n != 0 {
		return adapterViolation("OnExpired calls before the idle timeout", fmt.Sprint(n), "0", ruleIdle)
	}
	if _, err := adapterReadAfter(e, 31*time.Minute, &tok, "new=true", ruleIdle); err != nil {
		return err
	}
	if n := expired.Load(); n != 1 && !e.opts.ClientSide {
		return adapterViolation("OnExpired calls after the idle timeout", fmt.Sprint(n), "1", ruleIdle)
	}
	return nil
}

const ruleRefresh = "the idle deadline of a read-only session is refreshed at most once per IdleRefreshFraction*IdleTimeout"

func adapterCheckIdleRefresh(e *adapterEnv) error {
	var expired atomic.Int32
	cfg := core.Config{IdleTimeout: time.Hour, IdleRefreshFraction: 0.1} // a refresh at most every 6 minutes
	if err := adapterExpiring(e, cfg, &expired); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	e.faulty.ResetCalls()
	steps := []struct {
		d      time.Duration
		writes int
	}{
		{time.Minute, 0}, {2 * time.Minute, 0}, {2 * time.Minute, 0}, // +5m: not due
		{2 * time.Minute, 1},         // +7m: due
		{0, 1}, {2 * time.Minute, 1}, // refreshed at +7m, not due again until +13m
		{5 * time.Minute, 2},  // +14m: due
		{50 * time.Minute, 3}, // +64m: after the first deadline, alive because refreshed
	}
	for _, st := range steps {
		r, err := adapterReadAfter(e, st.d, &tok, "new=false a=1", ruleRefresh)
		if err != nil {
			return err
		}
		if n := e.writes(); n != st.writes {
			return adapterViolation("store writes (Touch, Save, CompareAndSwap) after "+r.call, fmt.Sprint(n), fmt.Sprint(st.writes), ruleRefresh)
		}
	}
	if n := expired.Load(); n != 0 {
		return adapterViolation("OnExpired calls", fmt.Sprint(n), "0", ruleRefresh)
	}
	return nil
}

const ruleAbsolute = "the absolute lifetime counts from creation and is never extended by activity"

func adapterCheckAbsolute(e *adapterEnv) error {
	var expired atomic.Int32
	if err := adapterExpiring(e, core.Config{Lifetime: time.Hour, IdleTimeout: 30 * time.Minute}, &expired); err != nil {
		return err
	}
	tok, err := e.newSession("a=1")
	if err != nil {
		return err
	}
	for _, d := range []time.Duration{20 * time.Minute, 20 * time.Minute, 10 * time.Minute, 9 * time.Minute} {
		r, err := adapterReadAfter(e, d, &tok, "new=false a=1", ruleAbsolute)
		if err != nil {
			return err
		}
		left := time.Hour - time.Duration(e.clock.offset.Load())
		if r.sent && r.cookie != nil && time.Duration(r.cookie.MaxAge)*time.Second > left+2*time.Second {
			return adapterViolation(r.call+" cookie Max-Age", fmt.Sprintf("%ds", r.cookie.MaxAge), fmt.Sprintf("at most %v", left), ruleAbsolute)
		}
	}
	if _, err := adapterReadAfter(e, 2*time.Minute, &tok, "new=true", ruleAbsolute); err != nil {
		return err
	}
	if n := expired.Load(); n != 1 && !e.opts.ClientSide {
		return adapterViolation("OnExpired calls after the lifetime", fmt.Sprint(n), "1", ruleAbsolute)
	}
	return nil
}
