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
# commit's, say, to compare two builds each against memcached).
bench_build() {
    if [ -n "${NEMCACHE_DLL:-}" ]; then
        [ -f "$NEMCACHE_DLL" ] || { echo "bench: NEMCACHE_DLL=$NEMCACHE_DLL does not exist" >&2; exit 2; }
        return
    fi
    dotnet build Nemcache.Service -c Release -v quiet -nologo >/dev/null
    NEMCACHE_DLL="$PWD/Nemcache.Service/bin/Release/net10.0/Nemcache.Service.dll"
}

bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_wait_port() {
    for _ in $(seq 1 300); do
        (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
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
    bench_wait_port "$1"
}

# bench_start_nemcache PORT DATA_DIR [VAR=VALUE ...]: the Release build, with extra environment settings.
bench_start_nemcache() {
    local port=$1 dir=$2
    shift 2
    env "$@" dotnet "$NEMCACHE_DLL" -p "$port" --data-dir "$dir" > "$dir.log" 2>&1 &
    NEMCACHE_PID=$!
    bench_wait_port "$port"
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
