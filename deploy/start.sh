#!/bin/bash
# Starts JupyterHub (port 8000) and hubmill (port 8002) in one container, like
# the seed's start.sh. HUBMILL_MODE=managed (default): the hub starts hubmill as
# a managed service. HUBMILL_MODE=external: this script starts hubmill itself
# and the hub only proxies to it. Both ways hubmill answers on :8002 directly
# and through the hub at /services/hubmill/. HUBMILL_MODE=remote: only the hub
# runs here; the proxy sends /services/hubmill/ to HUBMILL_URL (the load
# balancer of deploy/compose/scale-out.yml), whose nodes use the same token.
#
# Environment (defaults for the container; the tests override them):
#   JUPYTERHUB_CONFIG      /etc/jupyterhub/jupyterhub_config.py
#   JUPYTERHUB_DATA_DIR    /srv/jupyterhub   (hub database, cookie secret, hubmill's service token)
#   HUBMILL_DIR            /opt/hubmill      (the built hubmill checkout)
#   HUBMILL_DATA_DIR       /var/lib/hubmill  (job database)
#   HUBMILL_MODE           managed (default), external or remote
#   HUBMILL_URL            remote/external: where the proxy reaches hubmill (default http://127.0.0.1:$HUBMILL_PORT)
#   HUBMILL_SERVICE_TOKEN  hubmill's hub API token; generated once and kept in $JUPYTERHUB_DATA_DIR
#   HUB_USERS              "alice:pw1,bob:pw2": system users to create (PAM login, homes in /home)
#   HUB_ADMIN_USERS        "admin": hub admins (act for everyone in hubmill too)
set -euo pipefail

JUPYTERHUB_CONFIG="${JUPYTERHUB_CONFIG:-/etc/jupyterhub/jupyterhub_config.py}"
export JUPYTERHUB_DATA_DIR="${JUPYTERHUB_DATA_DIR:-/srv/jupyterhub}"
export HUBMILL_DIR="${HUBMILL_DIR:-/opt/hubmill}"
export HUBMILL_DATA_DIR="${HUBMILL_DATA_DIR:-/var/lib/hubmill}"
export HUBMILL_MODE="${HUBMILL_MODE:-managed}"
export HUBMILL_PORT="${HUBMILL_PORT:-8002}"
export HUBMILL_HOST="${HUBMILL_HOST:-0.0.0.0}"
export JUPYTERHUB_PORT="${JUPYTERHUB_PORT:-8000}"
export JUPYTERHUB_HUB_PORT="${JUPYTERHUB_HUB_PORT:-8081}"
export HUBMILL_SERVICE_TOKEN_FILE="${HUBMILL_SERVICE_TOKEN_FILE:-$JUPYTERHUB_DATA_DIR/hubmill_api_token}"
# configurable-http-proxy comes with hubmill's npm dependencies.
export PATH="$HUBMILL_DIR/node_modules/.bin:$PATH"

mkdir -p "$JUPYTERHUB_DATA_DIR" "$HUBMILL_DATA_DIR"
chmod 700 "$JUPYTERHUB_DATA_DIR"

# The service token: given, kept from an earlier start, or generated now.
umask 077
if [ -n "${HUBMILL_SERVICE_TOKEN:-}" ]; then
  printf '%s\n' "$HUBMILL_SERVICE_TOKEN" > "$HUBMILL_SERVICE_TOKEN_FILE"
elif [ ! -s "$HUBMILL_SERVICE_TOKEN_FILE" ]; then
  python3 -c 'import secrets; print(secrets.token_hex(32))' > "$HUBMILL_SERVICE_TOKEN_FILE"
fi
umask 022

# System users for PAM login, each with a home in /home/{username}.
if [ -n "${HUB_USERS:-}" ]; then
  IFS=',' read -ra entries <<< "$HUB_USERS"
  for entry in "${entries[@]}"; do
    name="${entry%%:*}"
    password="${entry#*:}"
    if ! id "$name" >/dev/null 2>&1; then
      useradd -m -s /bin/bash "$name"
      echo "✅ created user $name"
    fi
    if [ "$password" != "$entry" ]; then echo "$name:$password" | chpasswd; fi
  done
fi

hubmill_pid=""
cleanup() {
  if [ -n "$hubmill_pid" ]; then kill -TERM "$hubmill_pid" 2>/dev/null || true; wait "$hubmill_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

if [ "$HUBMILL_MODE" = "external" ]; then
  # Same variables the hub gives a managed service.
  JUPYTERHUB_API_TOKEN="$(cat "$HUBMILL_SERVICE_TOKEN_FILE")" \
  JUPYTERHUB_API_URL="http://127.0.0.1:${JUPYTERHUB_HUB_PORT}/hub/api" \
  JUPYTERHUB_BASE_URL="/" \
  JUPYTERHUB_SERVICE_NAME="hubmill" \
  JUPYTERHUB_SERVICE_PREFIX="/services/hubmill/" \
  JUPYTERHUB_CLIENT_ID="service-hubmill" \
  JUPYTERHUB_OAUTH_CALLBACK_URL="/services/hubmill/oauth_callback" \
    node --max-semi-space-size=2 "$HUBMILL_DIR/dist/cli/index.js" serve --host "$HUBMILL_HOST" --port "$HUBMILL_PORT" &
  hubmill_pid=$!
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:${HUBMILL_PORT}/services/hubmill/health', timeout=1)" 2>/dev/null; then
      echo "✅ hubmill started successfully on port ${HUBMILL_PORT}"
      break
    fi
    if ! kill -0 "$hubmill_pid" 2>/dev/null; then echo "❌ hubmill exited" >&2; exit 1; fi
    sleep 0.2
  done
fi

echo "✅ Starting JupyterHub on port ${JUPYTERHUB_PORT}..."
cd "$JUPYTERHUB_DATA_DIR"
if [ "$HUBMILL_MODE" = "external" ]; then
  # Keep this shell as the parent so the trap stops hubmill when the hub ends.
  jupyterhub -f "$JUPYTERHUB_CONFIG" &
  hub_pid=$!
  trap 'kill -TERM "$hub_pid" 2>/dev/null || true' TERM INT
  wait "$hub_pid" || true
  wait "$hub_pid" 2>/dev/null || true
else
  trap - EXIT
  exec jupyterhub -f "$JUPYTERHUB_CONFIG"
fi
