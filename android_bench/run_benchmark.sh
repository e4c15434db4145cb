#!/system/bin/sh
# docscan's on-device runner, pushed beside benchmark_model by `docscan bench --device adb:SERIAL`.
#
#   sh run_benchmark.sh [-t CPUMASK] BINARY LOGFILE [benchmark_model flags...]
#
# Runs BINARY with the flags (optionally pinned with `taskset CPUMASK`), writes everything it
# prints to LOGFILE, then prints the log between DOCSCAN_LOG_BEGIN / DOCSCAN_LOG_END and
# finally DOCSCAN_EXIT=<status>. The marker is there because adbd before Android 7 does not
# pass the remote exit status back, and because a missing marker tells docscan that the run
# was cut short (cable pulled, adbd restarted). POSIX sh only: Android's mksh and toybox.

mask=
if [ "$1" = "-t" ]; then
    mask=$2
    shift 2
fi
if [ $# -lt 2 ]; then
    echo "usage: run_benchmark.sh [-t CPUMASK] BINARY LOGFILE [FLAGS...]" >&2
    echo "DOCSCAN_EXIT=64"
    exit 64
fi
bin=$1
log=$2
shift 2
if [ ! -f "$bin" ]; then
    echo "run_benchmark.sh: $bin: no such file" >&2
    echo "DOCSCAN_EXIT=127"
    exit 127
fi
chmod 755 "$bin" 2>/dev/null

if [ -n "$mask" ]; then
    taskset "$mask" "$bin" "$@" > "$log" 2>&1
else
    "$bin" "$@" > "$log" 2>&1
fi
status=$?

echo "DOCSCAN_LOG_BEGIN"
cat "$log"
echo "DOCSCAN_LOG_END"
echo "DOCSCAN_EXIT=$status"
exit $status
