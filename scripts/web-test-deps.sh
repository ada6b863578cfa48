#!/usr/bin/env bash
# Installs what the checks from outside need (tests/graphql_http.rs, tests/web_client.rs):
# the Node packages pinned in tests/web/package-lock.json (graphql-http's audit suite,
# playwright-core) and Debian's Chromium for the headless browser. Idempotent: quick
# when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
  fi
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "installing Node.js and npm" >&2
  apt_install nodejs npm
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Chromium" >&2
  apt_install chromium
fi

# The reference client loads graphql-ws from the playground's vendored files.
scripts/fetch-graphiql.sh

web=tests/web
stamp="$web/node_modules/.installed-lock"
if [ ! -f "$stamp" ] || ! cmp -s "$web/package-lock.json" "$stamp"; then
  echo "installing the Node packages of $web" >&2
  (cd "$web" && npm ci --silent --no-audit --no-fund)
  cp "$web/package-lock.json" "$stamp"
fi
