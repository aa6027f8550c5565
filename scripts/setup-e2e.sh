#!/usr/bin/env bash
# Installs the offline end-to-end test tools (see docs/extension.md): Debian's chromium
# and code-server 4.100.3 (VS Code 1.100, the newest that runs on Node 20) in its own
# folder, outside the extension's dependencies. Idempotent; about 75 s the first time.
set -euo pipefail
DIR="${ENGRAM_E2E_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/engram-e2e}"
CODE_SERVER_VERSION=4.100.3

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

if [ -x "$DIR/node_modules/.bin/code-server" ] && grep -q "\"version\": \"$CODE_SERVER_VERSION\"" "$DIR/node_modules/code-server/package.json"; then
  echo "code-server $CODE_SERVER_VERSION already in $DIR"
  exit 0
fi
mkdir -p "$DIR"
# @vscode/ripgrep's postinstall downloads rg from GitHub: give it Debian's rg in its cache.
RG_CACHE="$(node -p "require('os').tmpdir()")/vscode-ripgrep-cache-1.15.11"
mkdir -p "$RG_CACHE"
tar czf "$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg
cd "$DIR"
[ -f package.json ] || echo '{"name":"engram-e2e-tools","private":true}' > package.json
# nodedir: build native modules against this Node's headers; yes: node-pty's postinstall runs npx node-gyp.
npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")" npm_config_yes=true \
  npm i --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" --unsafe-perm --foreground-scripts >"$DIR/install.log" 2>&1 \
  || { tail -40 "$DIR/install.log"; exit 1; }
echo "code-server $CODE_SERVER_VERSION installed in $DIR"
