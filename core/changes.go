package core

// changeSet is a request's changes to its session: for every key set,
// deleted or popped during the request (values and the core's metadata
// alike), its new value, or deleted. Most requests change one key (a
// counter, a cart), so the first entry lives in the set itself, in the
// session's state allocation: recording it allocates nothing, and finding
// or walking the entries is a scan of a short slice, where a map costs
// two allocations, a hash per lookup and an iterator setup per walk. The
// inline array is one entry, not more, because every touched session's
// state carries it, read-only ones included (32 bytes each). Past
// changeIndexAt entries the set keeps an index by key, so that a request
// changing many keys stays linear.
//
// Entries are in the order their keys were first changed. The zero
// changeSet is empty. A changeSet must not be copied once it holds
// entries: its list may point into its own inline array.
type changeSet struct {
	list   []change
	index  map[string]int // key → position in list; nil up to changeIndexAt entries
	inline [1]change      // list's backing array until it outgrows it
}

// change is one entry of a changeSet.
type change struct {
	key string
	v   any // the new value, or deleted
}

// changeIndexAt is the number of entries up to which a changeSet finds a
// key by scanning its list.
const changeIndexAt = 8

// len returns the number of keys changed.
func (c *changeSet) len() int { return len(c.list) }

// find returns the position of key in c.list, or -1.
func (c *changeSet) find(key string) int {
	if c.index != nil {
		if i, ok := c.index[key]; ok {
			return i
		}
		return -1
	}
	for i := range c.list {
		if c.list[i].key == key {
			return i
		}
	}
	return -1
}

// get returns the change recorded for key (a value, or deleted) and
// whether there is one.
func (c *changeSet) get(key string) (any, bool) {
	if i := c.find(key); i >= 0 {
		return c.list[i].v, true
	}
	return nil, false
}

// has reports whether key was changed.
func (c *changeSet) has(key string) bool { return c.find(key) >= 0 }

// set records v (a value, or deleted) as key's change, replacing an
// earlier one.
func (c *changeSet) set(key string, v any) {
	if i := c.find(key); i >= 0 {
		c.list[i].v = v
		return
	}
	if c.list == nil {
		c.list = c.inline[:0]
	}
	c.list = append(c.list, change{key, v})
	switch {
	case c.index != nil:
		c.index[key] = len(c.list) - 1
	case len(c.list) > changeIndexAt:
		c.reindex()
	}
}

// filter keeps the changes for which keep returns true, in their order,
// and drops the others.
func (c *changeSet) filter(keep func(key string, v any) bool) {
	out := c.list[:0]
	for _, e := range c.list {
		if keep(e.key, e.v) {
			out = append(out, e)
		}
	}
	if len(out) == len(c.list) {
		return // nothing dropped: the index stands
	}
	clear(c.list[len(out):]) // no dropped value stays reachable
	c.list = out
	if c.index != nil {
		c.index = nil
		if len(c.list) > changeIndexAt {
			c.reindex()
		}
	}
}

// reset drops every change.
func (c *changeSet) reset() { *c = changeSet{} }

// reindex builds c.index from c.list.
func (c *changeSet) reindex() {
	c.index = make(map[string]int, len(c.list))
	for i, e := range c.list {
		c.index[e.key] = i
	}
}
