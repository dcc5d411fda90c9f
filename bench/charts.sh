#!/usr/bin/env bash
# Draws the benchmark results as PNG charts in docs/, each from its CSV in bench/results/ when that exists:
#   docs/throughput.png           median TPS per combination, memcached and Nemcache (throughput.csv)
#   docs/restart.png              median restart wall and CPU times (restart.csv)
#   docs/latency.png              p99 per mode, mix, value size and rate, memcached and Nemcache (latency-rates.csv)
#   docs/latency-connections.png  throughput and p99 by connection count, memcached and Nemcache
#                                 (latency-connections.csv)
#   docs/latency-timeline.png     p99 and max second by second through the compaction run and the first seconds after a
#                                 restart, per mode (timeline-compaction-MODE.csv, timeline-restart-MODE.csv)
# Uses gnuplot (Debian's gnuplot-nox), installing it when run as root.
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

if [ -f bench/results/latency-connections.csv ]; then
    # One row per mode and connection count: label, both servers' requests/s, both servers' p99 (microseconds).
    tail -n +2 bench/results/latency-connections.csv | awk -F, '
        $3 == "memcached" { mr[$1 " " $2] = $6; mp[$1 " " $2] = $11 }
        $3 == "nemcache"  { nr[$1 " " $2] = $6; np[$1 " " $2] = $11; order[++count] = $1 " " $2 }
        END { for (i = 1; i <= count; i++) printf "\"%s\" %s %s %s %s\n", order[i], mr[order[i]], nr[order[i]], mp[order[i]], np[order[i]] }' \
        > "$work/connections.dat"
    gnuplot <<PLOT
set terminal pngcairo size 1400,560 font "DejaVu Sans,10"
set output "docs/latency-connections.png"
set multiplot layout 1,2 title "Closed loop, 90/10 at 100 B, by connection count (x: mode and connections; both servers in the same run)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -30
set grid ytics
set key top left
set bmargin 6
set title "throughput"
set ylabel "requests per second"
set yrange [0:*]
plot "$work/connections.dat" using 2:xtic(1) title "memcached 1.6.18", "" using 3 title "Nemcache"
set title "p99 latency"
set ylabel "microseconds (log scale)"
set logscale y
set yrange [*:*]
plot "$work/connections.dat" using 4:xtic(1) title "memcached 1.6.18", "" using 5 title "Nemcache"
unset multiplot
PLOT
    echo "docs/latency-connections.png"
fi

timelines=(bench/results/timeline-compaction-*.csv bench/results/timeline-restart-*.csv)
if [ -e "${timelines[0]}" ] || [ -e "${timelines[-1]}" ]; then
    # plot_timelines SECTION: the gnuplot plot command for the section's timelines, p99 and max of each mode.
    plot_timelines() {
        local plots=() colour=0
        for file in bench/results/timeline-"$1"-*.csv; do
            [ -e "$file" ] || continue
            local mode=${file#bench/results/timeline-$1-}
            mode=${mode%.csv}
            colour=$((colour + 1))
            plots+=("'$file' skip 1 using 2:(\$4 / 1000) with linespoints linecolor $colour title '$mode p99'")
            plots+=("'$file' skip 1 using 2:(\$5 / 1000) with lines linecolor $colour dashtype 2 title '$mode max'")
        done
        if [ ${#plots[@]} -eq 0 ]; then
            echo "set label 'no bench/results/timeline-$1-MODE.csv' at graph 0.3, graph 0.5; plot 1 notitle lc rgb 'white'"
        else
            local IFS=,
            echo "plot ${plots[*]}"
        fi
    }
    gnuplot <<PLOT
set terminal pngcairo size 1400,560 font "DejaVu Sans,10"
set output "docs/latency-timeline.png"
set datafile separator ","
set multiplot layout 1,2 title "Nemcache latency second by second, open loop (each reply counted in the second its request was due)"
set grid
set key top left
set logscale y
set xlabel "second of the run"
set ylabel "milliseconds (log scale)"
set title "compaction run: 10/90 at 4 KiB, half memcached's peak; compaction or merge asked at 22 s and 42 s"
set arrow from 22, graph 0 to 22, graph 1 nohead dashtype 3
set arrow from 42, graph 0 to 42, graph 1 nohead dashtype 3
$(plot_timelines compaction)
unset arrow
set title "after a restart with 1M items: 90/10 at 100 B, from the moment the port opens"
$(plot_timelines restart)
unset multiplot
PLOT
    echo "docs/latency-timeline.png"
fi
