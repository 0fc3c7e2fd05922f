# Helpers shared by bench/run and bench/watch (sourced, not run).
# The deploy figures are the pipeline's own: no [deploy] healthy_for window (a fixed wait after
# ready, 5 s by default) in the daemons the benchmarks start.
export BERTH_HEALTHY_FOR=0s
now_ns() { date +%s%N; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# Anonymous (heap, stacks) resident memory: what a process allocated itself, without the
# shared library pages that RSS also counts.
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b == "n/a" || b == 0) print "n/a"; else printf "%.3f", a / b }'; }
new_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
