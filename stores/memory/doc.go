// Package memory is an in-process session store for sessionkit.
//
// Records live in sharded hash tables inside the process, so they vanish
// when the process exits and are not shared between replicas: use it for
// tests, for single-instance deployments and as a reference
// implementation of core.Store. It implements every optional capability
// of the store contract: core.Toucher, core.CompareAndSwapper,
// core.Iterator, core.ExpiredDeleter and core.UserIndexer (an index from
// each user to the keys of their sessions, whose entries leave with their
// records).
//
// A Store copies data on Save and on Load, so neither the caller nor the store
// ever sees the other's slices. Expired records are invisible to Load at once
// and are removed from memory by a background sweeper (see
// Config.CleanupInterval) or by DeleteExpired. Call Close to stop the sweeper.
package memory
