#!/bin/sh
# Runs the JUnit suite and ends with exactly "tests: N passed, M failed".
# usage: run-tests.sh CLASSPATH IBEX_BIN [CLASS_NAME_PART]
#   make test TESTS=Codec   runs only the test classes whose name contains "Codec"
# Exit 1 when a test failed, when none ran, or when the launcher itself failed.
set -u
cp=$1 bin=$2 pattern=${3:-}
out=$(mktemp)
trap 'rm -f "$out" "$out.rc"' EXIT
select="--scan-classpath build/test-classes"
[ -n "$pattern" ] && select="$select --include-classname=.*${pattern}.*"
{ "${JAVA:?}" --enable-native-access=ALL-UNNAMED ${IBEX_TEST_OPTS:-} -Dibex.bin="$bin" -Dibex.sql="$(pwd)/sql/ibex.sql" \
    -cp "$cp" org.junit.platform.console.ConsoleLauncher execute \
    --disable-banner --details=tree --details-theme=ascii $select 2>&1; echo $? > "$out.rc"; } | tee "$out"
count() { sed -n "s/^\[ *\([0-9]*\) tests $1 *\]\$/\1/p" "$out" | tail -1; }
passed=$(count successful); failed=$(count failed); found=$(count found)
passed=${passed:-0}; failed=${failed:-0}; found=${found:-0}
echo "tests: $passed passed, $failed failed"
[ "$(cat "$out.rc")" = 0 ] && [ "$found" -gt 0 ] && [ "$failed" = 0 ]
