#!/bin/sh
# Turn a plain jar into an explicit module so jlink accepts it.
# usage: patch-module.sh MODULE JARDIR OUT.jar
#   jdeps writes a module-info.java from the jar's packages and META-INF/services (so the JDBC
#   drivers keep 'provides java.sql.Driver'); it is compiled against the jar and added to a copy.
# The one edit: H2 names desktop, scripting, compiler, instrument and jdk.net as required, but uses
# them only for optional features (its console, Java functions); 'requires static' keeps them out of
# the image (76 MB -> 52 MB, ../shared/reference/build-notes.md §3).
set -eu
mod=$1 jars=$2 out=$3
J=${JAVA_HOME:?}/bin
case $mod in
  minimal.json)      src=$(ls "$jars"/minimal-json-*.jar) ;;
  mysql.connector.j) src=$(ls "$jars"/mysql-connector-j-*.jar) ;;
  com.h2database)    src=$(ls "$jars"/h2-*.jar) ;;
  *) echo "patch-module.sh: unknown module $mod" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# jdeps names the module after the jar's file name (or its Automatic-Module-Name), so keep the name.
jar="$work/$(basename "$src")"
cp "$src" "$jar"
"$J/jdeps" --ignore-missing-deps --multi-release 25 --generate-module-info "$work/gen" "$jar" >/dev/null
info=$(find "$work/gen" -name module-info.java | head -1)
test -n "$info" || { echo "patch-module.sh: jdeps made no module-info for $mod" >&2; exit 1; }
grep -q "^module $mod " "$info" || { echo "patch-module.sh: jdeps named the module otherwise: $(head -1 "$info")" >&2; exit 1; }
if [ "$mod" = com.h2database ]; then
  sed -E -i 's/requires (transitive )?(java\.desktop|java\.instrument|java\.scripting|java\.compiler|jdk\.net);/requires static \2;/' "$info"
fi
"$J/javac" -nowarn -d "$work/c" --patch-module "$mod=$jar" "$info" 2>/dev/null || \
  "$J/javac" -nowarn -d "$work/c" --patch-module "$mod=$jar" "$info"
"$J/jar" --update --file "$jar" -C "$work/c" module-info.class
mv "$jar" "$out"
