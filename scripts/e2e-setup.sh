#!/usr/bin/env bash
# Installs what the real-editor tests (npm run test:e2e) need on a Debian machine, idempotently:
#   - apt: chromium (the browser that drives VS Code), libkrb5-dev (code-server's native kerberos module),
#     ripgrep (seeded into @vscode/ripgrep, whose postinstall would otherwise download rg from GitHub)
#   - code-server@$CODE_SERVER_VERSION (real VS Code, web build) into a cache folder OUTSIDE the repo tree.
# Re-running is cheap: everything already present is skipped.
#
#   LOCAL_GPT2_E2E_HOME   cache root (default ~/.cache/local-gpt2-e2e); code-server lands in $LOCAL_GPT2_E2E_HOME/server
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
E2E_HOME=${LOCAL_GPT2_E2E_HOME:-$HOME/.cache/local-gpt2-e2e}
SERVER_DIR=$E2E_HOME/server
T0=$(date +%s)
log() { echo "[e2e-setup +$(($(date +%s) - T0))s] $*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- apt packages (only the missing ones) ------------------------------------------------------------------------
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v rg >/dev/null 2>&1 || missing+=(ripgrep)
dpkg-query -W -f='${Status}' libkrb5-dev 2>/dev/null | grep -q 'install ok installed' || missing+=(libkrb5-dev)
# Another apt (unattended upgrades, a second setup run) may hold the dpkg lock: apt waits for it up to this long
# instead of failing at once.
APT_LOCK_WAIT=${LOCAL_GPT2_APT_LOCK_WAIT:-600}
apt() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" "$@"; }
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]} (waits up to ${APT_LOCK_WAIT}s for another apt to finish)"
  apt update -qq
  apt install -y -qq "${missing[@]}"
else
  log "apt packages present (chromium, ripgrep, libkrb5-dev)"
fi

# --- code-server ----------------------------------------------------------------------------------------------------
installed_version() {
  node -e 'try { console.log(require(process.argv[1]).version) } catch { }' \
    "$SERVER_DIR/node_modules/code-server/package.json" 2>/dev/null || true
}
if [ "$(installed_version)" = "$CODE_SERVER_VERSION" ] && [ -x "$SERVER_DIR/node_modules/.bin/code-server" ]; then
  log "code-server $CODE_SERVER_VERSION already installed in $SERVER_DIR"
  exit 0
fi

log "installing code-server $CODE_SERVER_VERSION into $SERVER_DIR (~1-2 min, builds native modules)"
mkdir -p "$SERVER_DIR"
# @vscode/ripgrep's postinstall downloads rg from GitHub, which is unreachable here: pre-fill its download cache with
# Debian's rg under the exact archive name it looks for.
RG_CACHE=${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11
RG_SEED=$(mktemp -d)
mkdir -p "$RG_CACHE"
cp "$(command -v rg)" "$RG_SEED/rg"
tar czf "$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$RG_SEED" rg
rm -rf "$RG_SEED"

cd "$SERVER_DIR"
[ -f package.json ] || echo '{"name":"local-gpt2-e2e-code-server","private":true}' > package.json
# Not -g (a global install breaks). npm_config_yes: node-pty's postinstall runs `npx node-gyp`, cancelled otherwise.
npm_config_yes=true npm install --no-audit --no-fund --unsafe-perm --foreground-scripts \
  "code-server@$CODE_SERVER_VERSION" > "$SERVER_DIR/install.log" 2>&1 || {
  tail -n 60 "$SERVER_DIR/install.log"; log "code-server install FAILED (full log: $SERVER_DIR/install.log)"; exit 1; }

if [ "$(installed_version)" != "$CODE_SERVER_VERSION" ]; then
  log "code-server install finished but version is '$(installed_version)'"; exit 1
fi
log "code-server $CODE_SERVER_VERSION installed"
