#!/usr/bin/env bash
# Installs the GraphiQL playground's browser assets from the npm registry into
# assets/vendor/graphiql, so the playground works without internet (the server
# serves them from there; without them it falls back to a CDN).
set -euo pipefail
cd "$(dirname "$0")/.."
target=assets/vendor/graphiql
if [ -f "$target/graphiql.min.js" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: the GraphiQL playground will load its assets from a CDN" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent graphiql@3.8.3 react@18.3.1 react-dom@18.3.1 graphql-ws@5.16.2 >/dev/null)
mkdir -p "$target"
for tarball in "$work"/*.tgz; do
  tar -xzf "$tarball" -C "$work"
  name=$(basename "$tarball")
  case "$name" in
    graphiql-*) cp "$work/package/graphiql.min.js" "$work/package/graphiql.min.css" "$target/" ;;
    react-dom-*) cp "$work/package/umd/react-dom.production.min.js" "$target/" ;;
    react-*) cp "$work/package/umd/react.production.min.js" "$target/" ;;
    graphql-ws-*) cp "$work/package/umd/graphql-ws.min.js" "$target/" ;;
  esac
  rm -rf "$work/package"
done
echo "installed GraphiQL assets into $target" >&2
