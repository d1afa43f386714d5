#!/usr/bin/env bash
# modules.sh measures sessionkit's own modules with the conformance
# benchmarks and prints Markdown sections for RESULTS.md on stdout:
#   - every adapter (net/http, Gin, Echo v4, Echo v5) with
#     conformance.BenchmarkAdapter, next to its bare handler;
#   - the net/http adapter with and without the OpenTelemetry Observer
#     (core/otelsession);
#   - every store with conformance.BenchmarkStore (Load, Save,
#     CompareAndSwap, Touch on a 512-byte record);
#   - every compare-and-swap store under contention
#     (conformance.BenchmarkContention: CompareAndSwap calls per successful
#     commit, commits per second, failed commits and lost keys with 16 and
#     64 writers on one session);
#   - every server store's round trips per request (its
#     TestRequestRoundTrips, or TestRequestCalls for SQLite).
# run.sh calls it after the peer comparison; run it alone with
#   cd bench && ./modules.sh >> RESULTS.md
# The network stores use SESSIONKIT_REDIS_ADDR, SESSIONKIT_MEMCACHE_ADDR,
# SESSIONKIT_POSTGRES_DSN and SESSIONKIT_MYSQL_DSN, or the throw-away servers
# their tests start.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-150ms}
GO=${GO:-go}
BENCHSTAT="golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"
export GOWORK=off

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log() { printf '%s modules.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# bench DIR PATTERN BENCHTIME OUT: the benchmarks of one package, COUNT runs.
bench() {
	(cd "$1" && $GO test -run '^$' -bench "$2" -benchtime "$3" -count "$COUNT" -benchmem . 2>"$work/err.txt") >"$4" || {
		log "$1: benchmarks failed"
		cat "$work/err.txt" >&2
		return 1
	}
}

# table TITLE FILES...: benchstat of the files, in a fenced block.
table() {
	local title=$1
	shift
	printf '\n### %s\n\n```\n' "$title"
	local names=()
	for f in "$@"; do names+=("$(basename "$f")"); done
	(cd "$work" && $GO run "$BENCHSTAT" "${names[@]}" 2>/dev/null) | sed '/^goos:\|^goarch:\|^cpu:/d'
	printf '```\n'
}

printf '\n## sessionkit modules (conformance benchmarks)\n\n'
printf 'Measured by bench/modules.sh on %s, %d runs each (benchstat medians ± 95%% confidence).\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$COUNT"
printf 'Each table is one package measured on its own: compare rows within a table.\n'

adapters=(adapters/nethttp adapters/ginsession adapters/echosession adapters/echov5)
files=()
for a in "${adapters[@]}"; do
	[ -d "$a" ] || continue
	log "$a"
	f="$work/$(echo "$a" | tr / -).txt"
	bench "$a" '^(BenchmarkBare|BenchmarkAdapter)$' "$BENCHTIME" "$f"
	files+=("$f")
done
printf '\n### Adapters (conformance.BenchmarkAdapter; Echo v5 next to Echo v4)\n'
printf '\nA 10-value session; "untouched" never reads it, "read" reads one value, "update" sets one, "renew" renews the token. BenchmarkBare is the framework without sessionkit.\n'
for f in "${files[@]}"; do
	table "$(basename "$f" .txt | sed 's/^adapters-//')" "$f"
done

if [ -d core/otelsession ]; then
	log core/otelsession
	f="$work/otelsession.txt"
	bench core/otelsession '^(BenchmarkNoObserver|BenchmarkObserver)$' "$BENCHTIME" "$f"
	printf '\n### Observer (core/otelsession: the net/http adapter without and with the OpenTelemetry Observer)\n'
	printf '\nBenchmarkObserver is BenchmarkAdapter with an otelsession.Observer on the real SDK (every span sampled and handed to a processor that drops it; metrics aggregated for a manual reader); the difference to BenchmarkNoObserver is the telemetry'"'"'s cost per request.\n'
	table otelsession "$f"
fi

stores=(stores/memory stores/file stores/memcachestore stores/redisstore stores/postgresstore stores/mysqlstore stores/sqlitestore)
for s in "${stores[@]}"; do
	[ -d "$s" ] || continue
	log "$s"
	bench "$s" '^BenchmarkStore$' "$BENCHTIME" "$work/store-$(basename "$s").txt" || true
	bench "$s" '^BenchmarkContention$' 3x "$work/contention-$(basename "$s").txt" || true
done
printf '\n### Stores (conformance.BenchmarkStore: a 512-byte record, loopback servers)\n'
for s in "${stores[@]}"; do
	f="$work/store-$(basename "$s").txt"
	grep -q '^Benchmark' "$f" 2>/dev/null && table "$(basename "$s")" "$f"
done
printf '\n### Contention (conformance.BenchmarkContention)\n'
printf '\n16 or 64 concurrent writers, each committing 8 distinct keys to one session through one Manager: CompareAndSwap calls per successful commit (cas/write; target ≤ 1.5 in one process), successful commits per second (commits/s), failed commits and lost keys per round (both must be 0).\n'
for s in "${stores[@]}"; do
	f="$work/contention-$(basename "$s").txt"
	grep -q '^Benchmark' "$f" 2>/dev/null && table "$(basename "$s")" "$f"
done
printf '\n### Round trips per request (each store'"'"'s TestRequestRoundTrips, which fails when a count changes)\n\n'
printf '| store | round trips |\n|---|---|\n'
for s in stores/memcachestore stores/redisstore stores/postgresstore stores/mysqlstore stores/sqlitestore; do
	[ -d "$s" ] || continue
	line=$(cd "$s" && $GO test -count=1 -run '^TestRequest(RoundTrips|Calls)$' -v . 2>&1 | sed -n 's/.*round trips per request: //p' | head -1)
	printf '| %s | %s |\n' "$(basename "$s")" "${line:-not measured (no server)}"
done
printf '\nSQLite is in process: its row counts store calls.\n'
log "done"
