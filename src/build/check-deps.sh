#!/bin/sh
# The package import rules of ../STYLE.md, checked on the compiled classes with jdeps.
# usage: check-deps.sh CLASSES_DIR MODULE_PATH    (exit 1 and one line per forbidden edge)
set -eu
J=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin
allowed() {
  case $1 in
    ibex.core)        echo "" ;;
    ibex.config)      echo "ibex.core" ;;
    ibex.wire)        echo "ibex.core" ;;
    ibex.store)       echo "ibex.core ibex.config" ;;
    ibex.server.sched) echo "ibex.core ibex.config ibex.store" ;;
    ibex.server.rpc)  echo "ibex.core ibex.wire ibex.store ibex.config" ;;
    ibex.server.api)  echo "ibex.core ibex.store ibex.config" ;;
    ibex.server)      echo "ibex.core ibex.config ibex.store ibex.wire ibex.server.sched ibex.server.rpc ibex.server.api" ;;
    ibex.agent)       echo "ibex.core ibex.wire ibex.config" ;;
    ibex.cli)         echo "ibex.core ibex.config ibex.server ibex.agent ibex.store" ;;
    *)                echo "?" ;;
  esac
}
bad=0
edges=${TMPDIR:-/tmp}/ibex-deps.$$
raw=$edges.raw
trap 'rm -f "$edges" "$raw"' EXIT
"$J/jdeps" --multi-release 25 --module-path "$2" -verbose:package -filter:none --ignore-missing-deps "$1" > "$raw" 2>&1 ||
  { cat "$raw"; echo "check-deps: jdeps failed"; exit 1; }
awk '$1 ~ /^ibex/ && $3 ~ /^ibex/ && $1 != $3 {print $1, $3}' "$raw" | sort -u > "$edges"
# A check that sees no edge at all checked nothing.
[ -s "$edges" ] || { echo "check-deps: jdeps reported no package edges"; exit 1; }
while read -r from to; do
  ok=no
  for a in $(allowed "$from"); do [ "$a" = "$to" ] && ok=yes; done
  if [ $ok = no ]; then echo "check-deps: $from must not import $to"; bad=1; fi
done < "$edges"
[ $bad = 0 ] && echo "check-deps: package imports follow STYLE.md"
exit $bad
