# Shared by the bench scripts: tools, building, starting and stopping memcached and Nemcache, medians.
# Source it; it expects to run from the repository root.

bench_require_tools() {
    local missing=()
    command -v memcached >/dev/null || missing+=(memcached)
    command -v memcaslap >/dev/null || missing+=(libmemcached-tools)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        else
            echo "bench: install ${missing[*]} first (apt-get install -y ${missing[*]})" >&2
            exit 1
        fi
    fi
}

# bench_build: the Release build of this checkout, unless NEMCACHE_DLL already names a build to measure (another
# commit's, say, to compare two builds each against memcached). NEMCACHE_DLL stays a shell variable only: the server
# reads every NEMCACHE_ variable of its environment as a setting and refuses to start on one it does not know.
bench_build() {
    export -n NEMCACHE_DLL
    if [ -n "${NEMCACHE_DLL:-}" ]; then
        [ -f "$NEMCACHE_DLL" ] || { echo "bench: NEMCACHE_DLL=$NEMCACHE_DLL does not exist" >&2; exit 2; }
        return
    fi
    dotnet build Nemcache.Service -c Release -v quiet -nologo >/dev/null
    NEMCACHE_DLL="$PWD/Nemcache.Service/bin/Release/net10.0/Nemcache.Service.dll"
}

# bench_free_port: a port nothing listens on; from the range BENCH_PORTS ("26000-26999") if set, so that several
# people benchmarking on one machine keep out of each other's ports, else any the kernel picks.
bench_free_port() {
    python3 - "${BENCH_PORTS:-0-0}" <<'PORT'
import random, socket, sys
low, high = (int(p) for p in sys.argv[1].split("-"))
for port in random.sample(range(low, high + 1), high - low + 1):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(s.getsockname()[1])
        sys.exit(0)
sys.exit("bench: no free port in " + sys.argv[1])
PORT
}

# bench_wait_port PORT [PID]: waits up to 30 s until something listens on PORT; gives up early when process PID exits.
bench_wait_port() {
    for _ in $(seq 1 300); do
        (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        if [ -n "${2:-}" ] && [[ "$(ps -o stat= -p "$2")" =~ ^(Z|X|$) ]]; then
            echo "bench: process $2 exited before it listened on port $1" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "bench: nothing listens on port $1" >&2
    return 1
}

# bench_start_memcached PORT [MEMORY_MB]: memcached 1.6 with its defaults (64 MB unless given, 4 threads), on
# loopback only.
bench_start_memcached() {
    local user_flag=()
    [ "$(id -u)" = 0 ] && user_flag=(-u root)
    memcached -p "$1" -U 0 -l 127.0.0.1 -m "${2:-64}" "${user_flag[@]}" &
    MEMCACHED_PID=$!
    bench_wait_port "$1" "$MEMCACHED_PID"
}

# bench_start_nemcache PORT DATA_DIR [VAR=VALUE ...]: the Release build, with extra environment settings.
bench_start_nemcache() {
    local port=$1 dir=$2
    shift 2
    env "$@" dotnet "$NEMCACHE_DLL" -p "$port" --data-dir "$dir" > "$dir.log" 2>&1 &
    NEMCACHE_PID=$!
    bench_wait_port "$port" "$NEMCACHE_PID" || { tail -5 "$dir.log" >&2; return 1; }
}

# bench_fill_memory_limit_mb COUNT VALUE_SIZE: the cache's limit (MB) for COUNT keys key0..key<COUNT-1> of VALUE_SIZE
# bytes as bench/fill.py writes them, a quarter to spare: N x (key + value + 120 B, the per-item overhead the cache
# counts, CacheLimits.ItemOverheadBytes), at least 1024.
bench_fill_memory_limit_mb() {
    local last=$(($1 - 1))
    local key_bytes=$((3 + ${#last}))
    awk -v n="$1" -v k="$key_bytes" -v v="$2" \
        'BEGIN { mb = int(n * (k + v + 120) * 1.25 / 1048576) + 1; print (mb < 1024 ? 1024 : mb) }'
}

bench_stop() {
    for pid in "$@"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

# bench_stat PORT NAME: the value the `stats` command of the server on PORT reports for NAME.
bench_stat() {
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf 'stats\r\nquit\r\n' >&3
    timeout 5 cat <&3 | tr -d '\r' | awk -v name="$2" '$1 == "STAT" && $2 == name { print $3 }'
    exec 3<&-
}

# The key length of every memaslap run: with the value size, the logical size of one set.
BENCH_MEMASLAP_KEY_BYTES=16

# bench_memaslap_config FILE MIX SIZE: a memaslap configuration with 16-byte keys, SIZE-byte values and the get/set
# MIX ("90/10": 90% gets, 10% sets).
bench_memaslap_config() {
    local file=$1 mix=$2 size=$3
    local get=${mix%/*} set=${mix#*/}
    cat > "$file" <<CONFIG
key
$BENCH_MEMASLAP_KEY_BYTES $BENCH_MEMASLAP_KEY_BYTES 1
value
$size $size 1
cmd
0 $(awk "BEGIN { print $set / 100 }")
1 $(awk "BEGIN { print $get / 100 }")
CONFIG
}

# bench_memaslap_run PORT CONFIG DURATION CONNECTIONS: runs memaslap (2 threads, as many as the machine has cores)
# against the server on PORT for DURATION ("10s") and prints its summary line, "Run time: 10.0s Ops: ... TPS: ...".
bench_memaslap_run() {
    memcaslap -s "127.0.0.1:$1" -T 2 -c "$4" -t "$3" -F "$2" 2>&1 | grep '^Run time:'
}

# bench_memaslap PORT CONFIG DURATION CONNECTIONS: the TPS of one memaslap run.
bench_memaslap() {
    bench_memaslap_run "$@" | awk '{ for (i = 1; i <= NF; i++) if ($i == "TPS:") print $(i + 1) }'
}

# bench_median: the median of the numbers on stdin, one a line.
bench_median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_mode_environment MODE: the NEMCACHE_ settings that select a persistence mode, as VAR=VALUE words.
bench_mode_environment() {
    case "$1" in
        stream) echo "NEMCACHE_USE_BITCASK=0 NEMCACHE_SYNC=interval" ;;
        stream-always) echo "NEMCACHE_USE_BITCASK=0 NEMCACHE_SYNC=always" ;;
        stream-none) echo "NEMCACHE_USE_BITCASK=0 NEMCACHE_SYNC=none" ;;
        bitcask) echo "NEMCACHE_USE_BITCASK=1 NEMCACHE_SYNC=interval" ;;
        bitcask-always) echo "NEMCACHE_USE_BITCASK=1 NEMCACHE_SYNC=always" ;;
        bitcask-none) echo "NEMCACHE_USE_BITCASK=1 NEMCACHE_SYNC=none" ;;
        *) echo "bench: unknown mode '$1' (stream, stream-always, stream-none, bitcask, bitcask-always, bitcask-none)" >&2; exit 2 ;;
    esac
}
