#!/usr/bin/env bash
# run.sh: sessionkit against its peers. Runs every contender's scenarios
# COUNT times, interleaved (one round = every contender once, -count=1
# each), the seal/open, heap-footprint and peak-and-sweep benchmarks,
# counts the store round trips of every network-store contender, measures
# latency under load (bench/cmd/latency) and a wrk load test of the demo,
# summarises with benchstat and writes RESULTS.md.
#
#   COUNT=6 BENCHTIME=100ms LOAD_SECONDS=2 LATENCY_SECONDS=1 MODULES_COUNT=3 ./run.sh      (make bench)
#
# The defaults keep a whole run under 10 minutes on a fresh 2-CPU machine
# (a trial at COUNT=1 BENCHTIME=30ms took 3 min 55 s of CPU time, builds
# included; the scenario rounds, the 1M-session footprint and the modules'
# builds dominate).
#
# Redis and memcached are started on free loopback ports and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-100ms}
LOAD_SECONDS=${LOAD_SECONDS:-2}
MODULES_COUNT=${MODULES_COUNT:-3}
LATENCY_SECONDS=${LATENCY_SECONDS:-1}
GO=${GO:-go}
BENCHSTAT="golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"

work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

log() { printf '%s run.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

freeport() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

waitport() { # waitport PORT: until something listens on 127.0.0.1:PORT (10 s)
	for _ in $(seq 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	log "nothing listens on 127.0.0.1:$1"
	return 1
}

# --- tools ------------------------------------------------------------------
# On a fresh Debian machine (as root) install what is missing, as .ci/run does.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v memcached >/dev/null || missing+=(memcached)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- servers ---------------------------------------------------------------
if [ -z "${SESSIONKIT_REDIS_ADDR:-}" ]; then
	port=$(freeport)
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --daemonize no >"$work/redis.log" 2>&1 &
	pids+=($!)
	waitport "$port"
	export SESSIONKIT_REDIS_ADDR=127.0.0.1:$port
fi
if [ -z "${SESSIONKIT_MEMCACHE_ADDR:-}" ]; then
	port=$(freeport)
	user=()
	[ "$(id -u)" = 0 ] && user=(-u root)
	memcached -l 127.0.0.1 -p "$port" -U 0 -m 1024 "${user[@]}" >"$work/memcached.log" 2>&1 &
	pids+=($!)
	waitport "$port"
	export SESSIONKIT_MEMCACHE_ADDR=127.0.0.1:$port
fi
log "redis $SESSIONKIT_REDIS_ADDR, memcached $SESSIONKIT_MEMCACHE_ADDR"

# --- micro-benchmarks -------------------------------------------------------
$GO test -c -o "$work/bench.test" .
# The correctness tests first; their subtests name the contenders.
"$work/bench.test" -test.run '^(TestContenders|TestSealRoundTrip|TestUntouched.*)$' -test.v >"$work/tests.txt" 2>&1 || {
	cat "$work/tests.txt" >&2
	exit 1
}
mapfile -t contenders < <(sed -n 's/^ *--- PASS: TestContenders\/\([^ ]*\) .*/\1/p' "$work/tests.txt")
log "round trips per request"
"$work/bench.test" -test.run '^TestRoundTrips$' -test.v >"$work/trips.txt" 2>&1 || {
	cat "$work/trips.txt" >&2
	exit 1
}
log "${#contenders[@]} contenders, $COUNT rounds at -benchtime=$BENCHTIME"

raw="$work/raw.txt"
for round in $(seq "$COUNT"); do
	log "round $round/$COUNT"
	for c in "${contenders[@]}"; do
		"$work/bench.test" -test.run '^$' -test.bench "^BenchmarkScenarios\$/^${c}\$/" \
			-test.benchtime "$BENCHTIME" -test.count 1 -test.benchmem >>"$raw"
	done
	"$work/bench.test" -test.run '^$' -test.bench '^BenchmarkSeal$' -test.benchtime "$BENCHTIME" -test.count 1 -test.benchmem >>"$raw"
done
log "heap footprint"
"$work/bench.test" -test.run '^$' -test.bench '^BenchmarkFootprint$' -test.benchtime 1x -test.count 1 >>"$raw"
log "memory after a peak"
"$work/bench.test" -test.run '^$' -test.bench '^BenchmarkSweep$' -test.benchtime 1x -test.count 1 >>"$raw"

$GO run "$BENCHSTAT" -format csv "$raw" >"$work/stats.csv" 2>/dev/null
$GO run "$BENCHSTAT" "$raw" >"$work/stats.txt" 2>/dev/null

# --- latency under load ------------------------------------------------------
log "latency under load"
$GO build -o "$work/latency" ./cmd/latency
"$work/latency" -d "${LATENCY_SECONDS}s" -warmup 200ms -conns 16,64 >"$work/latency.tsv"

# --- load test ---------------------------------------------------------------
load="$work/load.tsv"
: >"$load"
if command -v wrk >/dev/null; then
	(cd ../cmd/sessiondemo && $GO build -o "$work/sessiondemo" .)
	$GO build -o "$work/bareserver" ./cmd/bareserver
	rps() { # rps URL [header]: requests per second reported by wrk
		local args=(-t1 -c8 -d"${LOAD_SECONDS}s")
		[ -n "${2:-}" ] && args+=(-H "$2")
		wrk "${args[@]}" "$1" | awk '/^Requests\/sec:/ {print $2}'
	}
	serve() { # serve BINARY ARGS...: start a server, print its pid
		"$@" >>"$work/servers.log" 2>&1 &
		echo $!
	}
	for fw in nethttp gin echo; do
		port=$(freeport)
		pid=$(serve "$work/bareserver" -framework "$fw" -addr "127.0.0.1:$port")
		pids+=("$pid")
		if waitport "$port"; then
			printf '%s\tbare\t%s\n' "$fw" "$(rps "http://127.0.0.1:$port/api/whoami")" >>"$load"
		fi
		kill "$pid" 2>/dev/null || true

		port=$(freeport)
		pid=$(serve "$work/sessiondemo" -framework "$fw" -addr "127.0.0.1:$port")
		pids+=("$pid")
		if ! waitport "$port"; then
			printf '%s\tsession-read\tdemo did not start\n' "$fw" >>"$load"
			tail -3 "$work/servers.log" >&2
			continue
		fi
		cookie=$(curl -s -o /dev/null -D - -X POST -d user=bench "http://127.0.0.1:$port/api/login" |
			sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
		printf '%s\tsession-read\t%s\n' "$fw" "$(rps "http://127.0.0.1:$port/api/whoami" "Cookie: $cookie")" >>"$load"
		printf '%s\tsession-new\t%s\n' "$fw" "$(rps "http://127.0.0.1:$port/api/count")" >>"$load"
		kill "$pid" 2>/dev/null || true
	done
else
	log "wrk not installed: no load test (apt-get install wrk)"
fi

# --- report ------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
machine="Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr), $($GO version | cut -d' ' -f3). \
Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Runs: $COUNT interleaved rounds at -benchtime=$BENCHTIME; latency ${LATENCY_SECONDS}s per case; load test ${LOAD_SECONDS}s per case (wrk -t1 -c8)."
$GO run ./cmd/report -stats "$work/stats.csv" -text "$work/stats.txt" -load "$load" -trips "$work/trips.txt" \
	-latency "$work/latency.tsv" -machine "$machine" -o RESULTS.md
log "measuring sessionkit's own modules"
COUNT=$MODULES_COUNT BENCHTIME=$BENCHTIME GO=$GO ./modules.sh >>RESULTS.md
log "wrote $(pwd)/RESULTS.md"
