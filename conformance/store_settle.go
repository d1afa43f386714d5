package conformance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

// ruleLoginSettles is the rule of a login whose deciding write fails
// without saying whether it took effect.
const ruleLoginSettles = "a login whose deciding store write took effect but whose reply was lost succeeds with the new token; one that did not take effect leaves the old token working and can no longer take effect (the core rewrites the old record unchanged, and CompareAndSwap then changes its version); one whose outcome the store tells only later is undone, so that the old token works again"

// errLostReply is what a settleStore returns for the call it spoils.
var errLostReply = errors.New("conformance: i/o timeout (the reply was lost)")

// settleMode is what a settleStore does with the deciding write.
type settleMode uint8

const (
	settleRecord   settleMode = iota // nothing: record which call it is
	settleLost                       // send it; lose the reply
	settleLostDown                   // send it; lose the reply; then fail every call until healed
	settleHeld                       // hold it: late() sends it on
)

// settleStore wraps the store under test for storeCheckLoginSettles: the
// first successful write of a login on the old key (Renew, CompareAndSwap
// or Save: the write that decides the renew) is spoilt as mode says.
type settleStore struct {
	mu      sync.Mutex
	oldKey  string
	mode    settleMode
	decider core.StoreOp // settleRecord: the op found; otherwise the op to spoil
	down    bool
	late    func() error
}

func (d *settleStore) around(ctx context.Context, c core.StoreCall, next func(context.Context) error) error {
	d.mu.Lock()
	if d.down {
		d.mu.Unlock()
		return errors.New("conformance: connection refused")
	}
	write := c.Op == core.OpRenew || c.Op == core.OpCompareAndSwap || c.Op == core.OpCompareAndSwapUser || c.Op == core.OpSave
	candidate := d.oldKey != "" && c.Key == d.oldKey && write
	mode := d.mode
	if mode != settleRecord && c.Op != d.decider {
		candidate = false
	}
	if candidate && mode == settleHeld {
		d.oldKey, d.late = "", func() error { return next(context.Background()) }
		d.mu.Unlock()
		return errLostReply
	}
	d.mu.Unlock()
	err := next(ctx)
	if !candidate || err != nil {
		return err // a renew declined (ErrNotSupported) or lost: the core tries the next way
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.oldKey = ""
	switch mode {
	case settleRecord:
		d.decider = c.Op
		return nil
	case settleLostDown:
		d.down = true
	}
	return errLostReply
}

func (d *settleStore) arm(oldKey string, mode settleMode) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.oldKey, d.mode = oldKey, mode
}

func (d *settleStore) heal() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = false
}

func storeCheckLoginSettles(ctx context.Context, s core.Store, _ StoreOptions) error {
	d := new(settleStore)
	h, err := newUserHarness(core.WrapStore(s, core.StoreWrapper{Around: d.around}),
		core.Config{StoreTimeout: 2 * time.Second, CommitTimeout: 4 * time.Second})
	if err != nil {
		return err
	}
	user := fmt.Sprintf("settle-%x", rand.Uint64())
	cart := func() (string, error) {
		return h.request("", func(s *core.Session) { s.Set("cart", 3) })
	}
	login := func(tok string, mode settleMode) (string, error) {
		d.arm(core.StoreKey(tok), mode)
		return h.request(tok, func(s *core.Session) { s.Renew(); s.SetUser(user) })
	}
	// state is what tok loads: "cart=3 user=u", say.
	state := func(tok string) (string, error) {
		var st string
		_, err := h.request(tok, func(s *core.Session) {
			v, _ := s.Get("cart")
			st = fmt.Sprintf("cart=%v user=%q", v, s.User())
		})
		return st, err
	}
	before, loggedIn, ended := `cart=3 user=""`, fmt.Sprintf("cart=3 user=%q", user), `cart=<nil> user=""`
	want := func(label, tok, want string) error {
		got, err := state(tok)
		if err != nil {
			return fmt.Errorf("conformance: request with the %s: %w", label, err)
		}
		if got != want {
			return storeViolation("a request with the "+label, got, want, ruleLoginSettles)
		}
		return nil
	}

	// A login without faults, to find the write that decides the renew.
	tok, err := cart()
	if err != nil {
		return err
	}
	if _, err := login(tok, settleRecord); err != nil {
		return err
	}
	d.mu.Lock()
	decider := d.decider
	d.mu.Unlock()
	if decider == "" {
		return storeViolation("a login", "no write to the old key", "Renew, or a write of the old key", ruleLoginSettles)
	}
	d.mu.Lock()
	d.decider = decider
	d.mu.Unlock()

	// The write takes effect; its reply is lost.
	if tok, err = cart(); err != nil {
		return err
	}
	newTok, err := login(tok, settleLost)
	if err != nil || newTok == tok {
		return storeViolation(fmt.Sprintf("a login whose %s took effect, its reply lost", decider),
			fmt.Sprintf("error %v, new token %v", err, newTok != tok), "success and a new token", ruleLoginSettles)
	}
	if err := want("new token", newTok, loggedIn); err != nil {
		return err
	}
	if err := want("pre-login token", tok, ended); err != nil {
		return err
	}

	// The write is held, the login fails, then the write arrives.
	if tok, err = cart(); err != nil {
		return err
	}
	if _, err := login(tok, settleHeld); err == nil {
		return storeViolation("a login whose "+string(decider)+" is held", "success", "the store's error", ruleLoginSettles)
	}
	d.mu.Lock()
	late := d.late
	d.mu.Unlock()
	if late == nil {
		return storeViolation("a login whose "+string(decider)+" is held", "no "+string(decider), "the held call", ruleLoginSettles)
	}
	if err := late(); !errors.Is(err, core.ErrConflict) {
		return storeViolation(string(decider)+" arriving after its login failed", storeErrText(err), "an error wrapping core.ErrConflict", ruleLoginSettles)
	}
	if err := want("pre-login token after the late write", tok, before); err != nil {
		return err
	}

	// The write takes effect, then the store stops answering; the core
	// undoes the renew once it answers again.
	if tok, err = cart(); err != nil {
		return err
	}
	if _, err := login(tok, settleLostDown); err == nil {
		return storeViolation("a login whose store went down after its "+string(decider), "success", "the store's error", ruleLoginSettles)
	}
	time.Sleep(200 * time.Millisecond)
	d.heal()
	// Then the old token loads the session as it was, and two sessions of
	// user are left: the first login's and the one whose reply was lost
	// (a store that cannot list sessions is not asked).
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := want("pre-login token, after the store came back", tok, before)
		if err == nil {
			list, lerr := h.m.UserSessions(ctx, user)
			switch {
			case lerr != nil && !errors.Is(lerr, core.ErrNotSupported):
				return lerr
			case lerr == nil && len(list) != 2:
				err = storeViolation(fmt.Sprintf("UserSessions(%q) after the undone login", user),
					fmt.Sprintf("%d sessions", len(list)), "2 (the first login's, and the one whose reply was lost)", ruleLoginSettles)
			}
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%w (10 s after the store came back)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
