#!/bin/sh
# Runs src/<ENTRY>.ts with node: from the compiled dist/ (its bundle) when it is up to date with src/ (less
# memory, faster start), else through the tsx loader. `exec` keeps one process, so signals sent
# to ./occ reach node itself.
DIR=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
ENTRY=$1
shift
if [ -z "$COFFER_NO_DIST" ] && [ -f "$DIR/dist/.stamp" ] && [ -z "$(find "$DIR/src" -newer "$DIR/dist/.stamp" -print -quit)" ]; then
  # the entry's bundle when the build made one (faster start, less memory), else its module tree;
  # stack traces name src/ lines with COFFER_SOURCE_MAPS=1 (the maps cost memory: off by default)
  MAPS=
  if [ -n "$COFFER_SOURCE_MAPS" ]; then MAPS=--enable-source-maps; fi
  if [ -f "$DIR/dist/$ENTRY.bundle.js" ]; then exec node $MAPS "$DIR/dist/$ENTRY.bundle.js" "$@"; fi
  exec node $MAPS "$DIR/dist/$ENTRY.js" "$@"
fi
exec node --import "$DIR/node_modules/tsx/dist/loader.mjs" "$DIR/src/$ENTRY.ts" "$@"
