#!/bin/sh
# The package import rules of ../STYLE.md, checked on the compiled classes with jdeps.
# usage: check-deps.sh CLASSES_DIR    (exit 1 and one line per forbidden edge)
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
"$J/jdeps" -verbose:package -filter:none --ignore-missing-deps "$1" 2>/dev/null |
  awk '$1 ~ /^ibex/ && $3 ~ /^ibex/ && $1 != $3 {print $1, $3}' | sort -u > "${TMPDIR:-/tmp}/ibex-deps.$$"
while read -r from to; do
  ok=no
  for a in $(allowed "$from"); do [ "$a" = "$to" ] && ok=yes; done
  if [ $ok = no ]; then echo "check-deps: $from must not import $to"; bad=1; fi
done < "${TMPDIR:-/tmp}/ibex-deps.$$"
rm -f "${TMPDIR:-/tmp}/ibex-deps.$$"
[ $bad = 0 ] && echo "check-deps: package imports follow STYLE.md"
exit $bad
