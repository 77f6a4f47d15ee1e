#!/usr/bin/env bash
# Demo activation: local provider sinks (SMTP :8025, LINE/SMS/webhooks :8113), the journey worker,
# and the cart-abandonment and birthday-month journeys published in the demo workspace.
# Usage: deploy/activation-demo.sh start|stop
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
ENVFILE=var/activation-demo.env
mkdir -p var
stop() {
  for name in activation-worker activation-sinks; do
    if [ -f "var/$name.pid" ] && kill -0 "$(cat "var/$name.pid")" 2>/dev/null; then kill -TERM "$(cat "var/$name.pid")"; fi
    rm -f "var/$name.pid"
  done
}
case "${1:-start}" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
if [ ! -f "$ENVFILE" ]; then  # demo credentials for the local sinks, generated once (never in source)
  rand() { python3 -c 'import secrets;print(secrets.token_urlsafe(24))'; }
  umask 077
  cat > "$ENVFILE" <<EOV
VEIL_ACTIVATION_SMTP_HOST=127.0.0.1
VEIL_ACTIVATION_SMTP_PORT=8025
VEIL_ACTIVATION_LINE_BASE_URL=http://127.0.0.1:8113
VEIL_ACTIVATION_LINE_CHANNEL_TOKEN=$(rand)
VEIL_ACTIVATION_SMS_BASE_URL=http://127.0.0.1:8113
VEIL_ACTIVATION_SMS_USERNAME=demo
VEIL_ACTIVATION_SMS_PASSWORD=$(rand)
EOV
fi
set -a; . "$ENVFILE"; set +a
stop
nohup $BIN/veil activation sinks --smtp-port 8025 --http-port 8113 > var/activation-sinks.log 2>&1 < /dev/null &
echo $! > var/activation-sinks.pid
for tpl in cart_abandoned birthday_month; do
  if ! $BIN/veil activation list --json 2>/dev/null | grep -q "\"template\": \"$tpl\""; then
    id=$($BIN/veil activation create --template "$tpl" 2>/dev/null)
    $BIN/veil activation publish "$id" >/dev/null 2>&1
  fi
done
nohup $BIN/veil activation worker > var/activation-worker.log 2>&1 < /dev/null &
echo $! > var/activation-worker.pid
echo "Activation demo: journeys published; messages arrive in the sinks (var/activation-sinks.log,"
echo "  http://127.0.0.1:8113/messages); ledger: $BIN/veil activation sends"
