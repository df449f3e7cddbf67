#!/bin/sh
# make bench: runs src/bench/Bench.java against bin/ibex and writes BENCHMARKS.md.
# usage: bench.sh [--quick] [--only P1,P3] [--out FILE]     (run from the repository root, after make)
# Installs wrk (Debian package) when it is missing and apt-get can; P6 says so when it cannot.
# MariaDB for P6 is root@127.0.0.1 with an empty password, a fresh database `ibexbench` each run.
set -eu
cd "$(dirname "$0")/../.."
JAVA=${JAVA:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}
[ -x bin/ibex ] && [ -d build/bench ] || { echo "bench.sh: run 'make bench' (needs bin/ibex and build/bench)" >&2; exit 2; }
if ! command -v wrk > /dev/null 2>&1; then
  if command -v apt-get > /dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "bench.sh: installing wrk (apt-get install -y wrk)"
    apt-get update -qq > /dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk > /dev/null 2>&1 || echo "bench.sh: wrk could not be installed; P6 will say so"
  else
    echo "bench.sh: wrk is missing and cannot be installed here; P6 will say so"
  fi
fi
mariadb=no
if command -v mysql > /dev/null 2>&1 && mysql -h 127.0.0.1 -u root -e 'SELECT 1' > /dev/null 2>&1; then
  mariadb=yes
fi
# One process may hold 20,000 open files here; the server holds one per agent.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$JAVA" -XX:+UseSerialGC -Xmx512m -cp build/bench:build/classes bench.Bench \
  --bin bin/ibex --java "$JAVA" --cp "$(pwd)/build/bench:$(pwd)/build/classes" --sql sql/ibex.sql \
  --mariadb "$mariadb" --out BENCHMARKS.md "$@"
