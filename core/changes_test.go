package core

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// changeList returns m as a list of changes, in map order.
func changeList(m map[string]any) []change {
	var list []change
	for k, v := range m {
		list = append(list, change{k, v})
	}
	return list
}

// checkChangeSet returns an error unless c holds exactly want, each key
// once, in the order of first change that order records, and its index
// (when it has one) points at every entry.
func checkChangeSet(c *changeSet, want map[string]any, order []string) error {
	if c.len() != len(want) {
		return fmt.Errorf("len %d, want %d", c.len(), len(want))
	}
	for i, e := range c.list {
		if e.key != order[i] {
			return fmt.Errorf("entry %d is %q, want %q (the order of first change)", i, e.key, order[i])
		}
		if v, ok := want[e.key]; !ok || v != e.v {
			return fmt.Errorf("entry %q = %v, want %v (present %v)", e.key, e.v, v, ok)
		}
		if got, ok := c.get(e.key); !ok || got != e.v {
			return fmt.Errorf("get(%q) = %v, %v; want %v", e.key, got, ok, e.v)
		}
	}
	if (c.index != nil) != (c.len() > changeIndexAt) {
		return fmt.Errorf("%d entries with index %v; want an index only past %d", c.len(), c.index != nil, changeIndexAt)
	}
	if c.index != nil && len(c.index) != c.len() {
		return fmt.Errorf("index of %d keys for %d entries", len(c.index), c.len())
	}
	if _, ok := c.get("never changed"); ok || c.has("never changed") {
		return fmt.Errorf("get of a key never changed found it")
	}
	return nil
}

// TestChangeSet runs random sets (of values and of deletion marks),
// filters and resets against a map and the order of first change, across
// the index threshold both ways.
func TestChangeSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var c changeSet
		want := map[string]any{}
		var order []string
		keys := 1 + rng.IntN(3*changeIndexAt)
		for step := range 60 {
			switch op := rng.IntN(20); {
			case op == 0:
				c.reset()
				want, order = map[string]any{}, nil
			case op <= 2:
				drop := rng.IntN(4)
				group := func(k string, v any) int {
					if isDeleted(v) {
						return 3
					}
					return (len(k) + v.(int)) % 3
				}
				c.filter(func(k string, v any) bool { return group(k, v) != drop })
				maps.DeleteFunc(want, func(k string, v any) bool { return group(k, v) == drop })
				kept := order[:0]
				for _, k := range order {
					if _, ok := want[k]; ok {
						kept = append(kept, k)
					}
				}
				order = kept
			default:
				k := fmt.Sprintf("k%0*d", 1+rng.IntN(3), rng.IntN(keys))
				var v any = rng.IntN(1000)
				if rng.IntN(4) == 0 {
					v = deleted
				}
				if _, ok := want[k]; !ok {
					order = append(order, k)
				}
				want[k] = v
				c.set(k, v)
			}
			if err := checkChangeSet(&c, want, order); err != nil {
				t.Fatalf("round %d, step %d: %v", round, step, err)
			}
		}
	}
}

// TestChangeSetInline pins what makes a session's first change free: a
// zero changeSet records a key, replaces its value and deletes it without
// allocating, in its inline array; a filter clears the slots it empties.
func TestChangeSetInline(t *testing.T) {
	var c changeSet
	allocs := testing.AllocsPerRun(100, func() {
		c.reset()
		c.set("visits", 1)
		c.set("visits", 2)
		c.set("visits", deleted)
		if !c.has("visits") || c.len() != 1 {
			t.Fatal("lost the change")
		}
	})
	if allocs != 0 {
		t.Errorf("one key's changes allocate %v times, want 0", allocs)
	}
	if &c.list[0] != &c.inline[0] {
		t.Error("the first change does not live in the set's inline array")
	}
	c.set("cart", 3)
	c.filter(func(k string, _ any) bool { return k == "cart" })
	if c.len() != 1 || c.list[0].key != "cart" || c.list[:2][1] != (change{}) {
		t.Errorf("after filter: %v; want [cart] and the emptied slot cleared", c.list[:2])
	}
}
