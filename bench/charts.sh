#!/usr/bin/env bash
# Draws the benchmark results as PNG charts in docs/: the median TPS per combination from bench/results/throughput.csv
# (docs/throughput.png), the median restart wall and CPU times from bench/results/restart.csv (docs/restart.png) and the p99 latencies from
# bench/results/latency-rates.csv (docs/latency.png). Uses gnuplot
# (Debian's gnuplot-nox), installing it when run as root.
#
#   bench/charts.sh        (after throughput.sh, restart.sh and latency.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

if ! command -v gnuplot >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null
    else
        echo "charts: install gnuplot-nox first" >&2
        exit 1
    fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -f bench/results/throughput.csv ]; then
    # One row per combination: label, median memcached TPS, median Nemcache TPS.
    tail -n +2 bench/results/throughput.csv | cut -d, -f1-3 | sort -u | while IFS=, read -r mode mix size; do
        m=$(awk -F, -v a="$mode" -v b="$mix" -v c="$size" '$1==a && $2==b && $3==c { print $5 }' bench/results/throughput.csv | bench_median)
        n=$(awk -F, -v a="$mode" -v b="$mix" -v c="$size" '$1==a && $2==b && $3==c { print $6 }' bench/results/throughput.csv | bench_median)
        echo "\"$mode $mix ${size}B\" $m $n"
    done > "$work/throughput.dat"
    gnuplot <<PLOT
set terminal pngcairo size 1400,620 font "DejaVu Sans,10"
set bmargin 9
set rmargin 6
set output "docs/throughput.png"
set title "memaslap TPS, median of rounds (memcached and Nemcache measured alternately in the same run)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "transactions per second"
set yrange [0:*]
set xtics rotate by -20
set key top right
set grid ytics
plot "$work/throughput.dat" using 2:xtic(1) title "memcached 1.6.18", "" using 3 title "Nemcache"
PLOT
    echo "docs/throughput.png"
fi

if [ -f bench/results/restart.csv ]; then
    # The median rows: wall time to the first get and the process's CPU time by then.
    tail -n +2 bench/results/restart.csv | awk -F, '$4 == "median" { printf "\"%s %dk %s\" %s %s\n", $1, $2 / 1000, $3, $5, $7 }' > "$work/restart.dat"
    gnuplot <<PLOT
set terminal pngcairo size 1400,620 font "DejaVu Sans,10"
set bmargin 9
set rmargin 6
set output "docs/restart.png"
set title "Restart: process start until the first get answers (every key is back by then), median of runs"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "milliseconds"
set yrange [0:*]
set xtics rotate by -20
set key top left
set grid ytics
plot "$work/restart.dat" using 2:xtic(1) title "wall time to first get, all keys back", "" using 3 title "CPU time by then (user + system)"
PLOT
    echo "docs/restart.png"
fi

if [ -f bench/results/latency-rates.csv ]; then
    # One row per combination: label, memcached p99, Nemcache p99 (microseconds, log scale).
    tail -n +2 bench/results/latency-rates.csv | awk -F, '
        $5 == "memcached" { m[$1 " " $2 " " $3 "B " $4 "%"] = $13 }
        $5 == "nemcache"  { n[$1 " " $2 " " $3 "B " $4 "%"] = $13; order[++count] = $1 " " $2 " " $3 "B " $4 "%" }
        END { for (i = 1; i <= count; i++) printf "\"%s\" %s %s\n", order[i], m[order[i]], n[order[i]] }' \
        > "$work/latency.dat"
    gnuplot <<PLOT
set terminal pngcairo size 1400,620 font "DejaVu Sans,10"
set bmargin 9
set rmargin 6
set output "docs/latency.png"
set title "p99 latency, open loop at a share of memcached's peak rate (both measured alternately in the same run)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "microseconds (log scale)"
set logscale y
set xtics rotate by -30
set key top left
set grid ytics
plot "$work/latency.dat" using 2:xtic(1) title "memcached 1.6.18", "" using 3 title "Nemcache"
PLOT
    echo "docs/latency.png"
fi
