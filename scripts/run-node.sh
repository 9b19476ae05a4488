#!/bin/sh
# Runs src/<ENTRY>.ts with node: from the compiled dist/ (its one-file bundle) when it is up to date with src/ (less
# memory, faster start), else through the tsx loader. `exec` keeps one process, so signals sent
# to ./occ reach node itself.
DIR=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
ENTRY=$1
shift
if [ -z "$COFFER_NO_DIST" ] && [ -f "$DIR/dist/.stamp" ] && [ -z "$(find "$DIR/src" -newer "$DIR/dist/.stamp" -print -quit)" ]; then
  # the one-file bundle of the entry when the build made one (faster start), else its module tree
  if [ -f "$DIR/dist/$ENTRY.bundle.js" ]; then exec node --enable-source-maps "$DIR/dist/$ENTRY.bundle.js" "$@"; fi
  exec node --enable-source-maps "$DIR/dist/$ENTRY.js" "$@"
fi
exec node --import "$DIR/node_modules/tsx/dist/loader.mjs" "$DIR/src/$ENTRY.ts" "$@"
