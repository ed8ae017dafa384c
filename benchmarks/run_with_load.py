#!/usr/bin/env python3
"""Runs one JMH selection on a shared machine and records how busy the machine was.

Usage (from the repository root, after ./mvnw -q -B -o install -DskipTests):
    python3 benchmarks/run_with_load.py NAME REGEX [JMH ARGS...]
    python3 benchmarks/run_with_load.py --exec NAME COMMAND [ARGS...]

Waits (up to --wait seconds, default 300) for the 1-minute load average to fall below 1.0, then runs
    $JAVA_HOME/bin/java -jar benchmarks/target/benchmarks.jar REGEX -rf json -rff OUT/NAME.json ARGS...
(with --exec: COMMAND ARGS... instead, any program)
with the log in OUT/NAME.log (OUT = $BENCH_OUT or /tmp/rocketkv-bench) and prints, and appends to
OUT/load.txt: the load average before and after, and the CPU that *other* processes used during the run
(busy CPU time from /proc/stat, hypervisor steal included, minus this run's own CPU time, in cores). The 1-minute load average after a
run includes the benchmark itself; the "others" figure does not.
"""
import os
import resource
import subprocess
import sys
import time


def cpu_seconds():
    """(busy, steal) CPU seconds of the whole machine since boot; busy includes steal."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / hz, fields[7] / hz


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    args = sys.argv[1:]
    wait = 300
    if args and args[0].startswith("--wait="):
        wait = int(args.pop(0).split("=", 1)[1])
    execute = bool(args) and args[0] == "--exec"
    if execute:
        args.pop(0)
    if len(args) < 2:
        sys.exit(__doc__)
    name = args[0]
    out = os.environ.get("BENCH_OUT", "/tmp/rocketkv-bench")
    os.makedirs(out, exist_ok=True)
    if execute:
        command = args[1:]
    else:
        java = os.path.join(os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin", "java")
        command = [java, "-jar", "benchmarks/target/benchmarks.jar", args[1],
                   "-rf", "json", "-rff", os.path.join(out, name + ".json")] + args[2:]

    deadline = time.time() + wait
    while float(loadavg().split()[0]) >= 1.0 and time.time() < deadline:
        time.sleep(5)

    before = loadavg()
    (busy0, steal0), t0 = cpu_seconds(), time.time()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.path.join(out, name + ".log"), "w") as log:
        rc = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    (busy1, steal1), t1 = cpu_seconds(), time.time()
    own = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    others = max(0.0, (busy1 - busy0) - own) / (t1 - t0)
    line = (f"{time.strftime('%Y-%m-%d %H:%M:%S')} {name}: rc {rc}, {t1 - t0:.0f} s, load before {before}, "
            f"after {loadavg()}; this run {own / (t1 - t0):.2f} cores, other processes {others:.2f} of "
            f"{os.cpu_count()} cores (of which hypervisor steal {(steal1 - steal0) / (t1 - t0):.2f})")
    print(line)
    with open(os.path.join(out, "load.txt"), "a") as f:
        f.write(line + "\n")
    sys.exit(rc)


if __name__ == "__main__":
    main()
