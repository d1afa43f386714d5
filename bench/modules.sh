#!/usr/bin/env bash
# modules.sh measures sessionkit's own modules with the conformance
# benchmarks and prints Markdown sections for RESULTS.md on stdout:
#   - every adapter (net/http, Gin, Echo v4, Echo v5) with
#     conformance.BenchmarkAdapter, next to its bare handler;
#   - every store with conformance.BenchmarkStore (Load, Save,
#     CompareAndSwap, Touch on a 512-byte record);
#   - every compare-and-swap store under contention
#     (conformance.BenchmarkContention: CompareAndSwap calls per successful
#     commit, commits per second, failed commits and lost keys with 16 and
#     64 writers on one session);
#   - every server store's round trips per request (its
#     TestRequestRoundTrips, or TestRequestCalls for SQLite);
#   - the Observer hooks (issue 14): core's BenchmarkObserverHooks (a
#     Manager with Config.Observer unset and with an Observer that does
#     nothing) and the net/http adapter without and with the OpenTelemetry
#     Observer (core/otelsession BenchmarkNoObserver, BenchmarkObserver).
# run.sh calls it before writing RESULTS.md, with DATA set to a directory
# where it leaves the round-trip and contention outputs for
# bench/cmd/report (trips-<store>.txt, contention-<store>.txt); run it
# alone with
#   cd bench && ./modules.sh >> RESULTS.md
# Any failing benchmark or test stops it with a non-zero exit.
# The network stores use SESSIONKIT_REDIS_ADDR, SESSIONKIT_MEMCACHE_ADDR,
# SESSIONKIT_POSTGRES_DSN and SESSIONKIT_MYSQL_DSN, or the throw-away servers
# their tests start.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-150ms}
CONTENTION_BENCHTIME=${CONTENTION_BENCHTIME:-1x}
GO=${GO:-go}
BENCHSTAT="golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"
export GOWORK=off

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fromrun=${DATA:+yes}
DATA=${DATA:-$work/data}
mkdir -p "$DATA"
log() { printf '%s modules.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

adapters=(adapters/nethttp adapters/ginsession adapters/echosession adapters/echov5)
stores=(stores/memory stores/file stores/memcachestore stores/redisstore stores/postgresstore stores/mysqlstore stores/sqlitestore)

# testbin DIR: the path of the package's test binary, built on first use
# (in TESTBINS when set, where a run of modules.sh -build left it) and run
# for each of its benchmarks and tests (a go test each would link it
# again: a store's three runs, three links).
TESTBINS=${TESTBINS:-$work/tests}
mkdir -p "$TESTBINS"
testbin() {
	local bin
	bin="$TESTBINS/$(echo "$1" | tr / -).test"
	if [ ! -x "$bin" ]; then
		(cd "$1" && $GO test -c -o "$bin" .) >&2 || {
			log "$1: the test binary did not build"
			return 1
		}
	fi
	echo "$bin"
}

# modules.sh -build: only build every test binary into TESTBINS, two at a
# time (run.sh's build phase; see there), and stop.
if [ "${1:-}" = -build ]; then
	dirs=(core)
	[ -d core/otelsession ] && dirs+=(core/otelsession)
	for d in "${adapters[@]}" "${stores[@]}"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	running=()
	for d in "${dirs[@]}"; do
		if [ ${#running[@]} -ge 2 ]; then
			wait "${running[0]}" || exit 1
			running=("${running[@]:1}")
		fi
		testbin "$d" >/dev/null &
		running+=($!)
	done
	for pid in "${running[@]}"; do
		wait "$pid" || exit 1
	done
	exit 0
fi

# benchstat, built once (a go run of it per table took about a second),
# unless run.sh gives the one it built. run.sh also sets GOFLAGS (no vet,
# no DWARF, gin without msgpack); run alone, this script builds with the
# caller's.
if [ -z "${BENCHSTATBIN:-}" ]; then
	GOBIN="$work/bin" $GO install "$BENCHSTAT"
	BENCHSTATBIN="$work/bin/benchstat"
fi

# bench DIR PATTERN BENCHTIME OUT: the benchmarks of one package, COUNT
# runs, run in DIR as go test would.
bench() {
	local bin
	bin=$(testbin "$1")
	(cd "$1" && "$bin" -test.run '^$' -test.bench "$2" -test.benchtime "$3" -test.count "$COUNT" -test.benchmem \
		-test.timeout 10m -test.paniconexit0 2>"$work/err.txt") >"$4" || {
		log "$1: benchmarks failed"
		cat "$4" "$work/err.txt" >&2
		exit 1
	}
}

# benchstat ARGS...: benchstat in $work, without the machine lines.
benchstat() {
	(cd "$work" && "$BENCHSTATBIN" "$@") | sed '/^goos:\|^goarch:\|^cpu:/d'
}

# table TITLE FILES...: benchstat of the files, in a fenced block.
table() {
	local title=$1
	shift
	printf '\n### %s\n\n```\n' "$title"
	local dir names=()
	dir=$(dirname "$1")
	for f in "$@"; do names+=("$(basename "$f")"); done
	(cd "$dir" && "$BENCHSTATBIN" "${names[@]}") | sed '/^goos:\|^goarch:\|^cpu:/d'
	printf '```\n'
}

printf '\n## Observer hooks (issue 14)\n\n'
printf 'Measured by bench/modules.sh on %s, %d runs each (benchstat medians ± 95%% confidence).\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$COUNT"
log core
bench core '^BenchmarkObserverHooks$' "$BENCHTIME" "$work/hooks.txt"
printf '\n### core (BenchmarkObserverHooks: Begin, use, Commit, Release on a memory store), Observer unset vs an Observer that does nothing\n\n'
printf 'Without an Observer each hook is a nil check; "nop" calls every hook of an Observer that does nothing but count its store calls, so nop − unset bounds what the hooks cost a Manager without an Observer. '
printf 'The before/after of issue 14 (main at c44e653, before the hooks, against the hooks unset: no allocation added, no time benchstat could tell from noise) compared two commits and was measured once, on 2026-11-29: `git show a008464:bench/RESULTS.md`.\n\n```\n'
benchstat -col /observer hooks.txt
printf '```\n'
if [ -d core/otelsession ]; then
	log core/otelsession
	bench core/otelsession '^(BenchmarkNoObserver|BenchmarkObserver)$' "$BENCHTIME" "$work/otelsession.txt"
	# One benchmark name for both, so that benchstat puts them side by side.
	sed -n 's/^BenchmarkNoObserver/BenchmarkAdapter/p' "$work/otelsession.txt" >"$work/none.txt"
	sed -n 's/^BenchmarkObserver/BenchmarkAdapter/p' "$work/otelsession.txt" >"$work/otel.txt"
	printf '\n### With the OpenTelemetry Observer (core/otelsession BenchmarkNoObserver vs BenchmarkObserver)\n\n'
	printf 'The net/http adapter'"'"'s BenchmarkAdapter without an Observer ("none") and with an `otelsession.Observer` on the real SDK ("otel": every span sampled, ended and handed to a span processor that drops it; every measurement aggregated for a manual reader): the difference is the telemetry'"'"'s cost per request. An exporter'"'"'s own work (batching, encoding, sending) comes on top, off the request path with a batch span processor.\n\n```\n'
	benchstat none=none.txt otel=otel.txt
	printf '```\n'
fi

printf '\n## sessionkit modules (conformance benchmarks)\n\n'
printf 'Measured by bench/modules.sh on %s, %d runs each (benchstat medians ± 95%% confidence).\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$COUNT"
printf 'Each table is one package measured on its own: compare rows within a table.\n'

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

for s in "${stores[@]}"; do
	[ -d "$s" ] || continue
	log "$s"
	bench "$s" '^BenchmarkStore$' "$BENCHTIME" "$work/store-$(basename "$s").txt"
	bench "$s" '^BenchmarkContention$' "$CONTENTION_BENCHTIME" "$DATA/contention-$(basename "$s").txt"
done
printf '\n### Stores (conformance.BenchmarkStore: a 512-byte record, loopback servers)\n'
for s in "${stores[@]}"; do
	f="$work/store-$(basename "$s").txt"
	grep -q '^Benchmark' "$f" 2>/dev/null && table "$(basename "$s")" "$f"
done
printf '\n### Contention (conformance.BenchmarkContention)\n'
printf '\n16 or 64 concurrent writers, each committing 8 distinct keys to one session through one Manager: CompareAndSwap calls per successful commit (cas/write; target ≤ 1.5 in one process), successful commits per second (commits/s), failed commits and lost keys per round (both must be 0).\n'
for s in "${stores[@]}"; do
	f="$DATA/contention-$(basename "$s").txt"
	grep -q '^Benchmark' "$f" 2>/dev/null && table "$(basename "$s")" "$f"
done
# The round trips: run.sh's report puts them in its tables; alone, a table here.
for s in stores/memcachestore stores/redisstore stores/postgresstore stores/mysqlstore stores/sqlitestore; do
	[ -d "$s" ] || continue
	f="$DATA/trips-$(basename "$s").txt"
	bin=$(testbin "$s")
	(cd "$s" && "$bin" -test.count 1 -test.run '^TestRequest(RoundTrips|Calls)$' -test.v -test.timeout 10m -test.paniconexit0 >"$f" 2>&1) || {
		log "$s: round trips test failed"
		cat "$f" >&2
		exit 1
	}
done
if [ -z "$fromrun" ]; then
	printf '\n### Round trips per request (each store'"'"'s TestRequestRoundTrips, which fails when a count changes)\n\n'
	printf '| store | round trips |\n|---|---|\n'
	for s in stores/memcachestore stores/redisstore stores/postgresstore stores/mysqlstore stores/sqlitestore; do
		f="$DATA/trips-$(basename "$s").txt"
		[ -f "$f" ] || continue
		line=$(sed -n 's/.*round trips per request: //p' "$f" | head -1)
		printf '| %s | %s |\n' "$(basename "$s")" "${line:-not measured (skipped: no server)}"
	done
	printf '\nSQLite is in process: its row counts store calls.\n'
fi
log "done"
