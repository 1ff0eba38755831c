#!/usr/bin/env bash
# health_check.sh: probe the orchestrator's /health endpoint.
#
#   health_check.sh [--restart-after N]
# Environment: API_URL (default http://localhost:8080), HEALTH_TIMEOUT (seconds, default 5),
# HEALTH_STATE_FILE (consecutive-failure counter, default /var/tmp/ordinaut-health.failures).
# Exit status: 0 healthy, 1 degraded, 2 unhealthy or unreachable.
# With --restart-after N, the API service is restarted (service_restart.sh api) after N
# consecutive failed probes.
set -euo pipefail

API_URL="${API_URL:-http://localhost:8080}"
TIMEOUT="${HEALTH_TIMEOUT:-5}"
STATE_FILE="${HEALTH_STATE_FILE:-/var/tmp/ordinaut-health.failures}"
RESTART_AFTER=0
if [[ "${1:-}" == "--restart-after" ]]; then
    RESTART_AFTER="${2:?--restart-after needs a number}"
fi

body="$(curl --silent --show-error --max-time "$TIMEOUT" "$API_URL/health" 2>&1)" || body=""
status="$(printf '%s' "$body" | python3 -c 'import json,sys
try:
    print(json.load(sys.stdin).get("status", "unknown"))
except Exception:
    print("unreachable")')"

case "$status" in
    healthy) code=0 ;;
    degraded) code=1 ;;
    *) code=2 ;;
esac
echo "health_check: $API_URL/health -> $status"

if [[ "$code" -eq 2 ]]; then
    failures=$(( $(cat "$STATE_FILE" 2>/dev/null || echo 0) + 1 ))
    echo "$failures" > "$STATE_FILE"
    if [[ "$RESTART_AFTER" -gt 0 && "$failures" -ge "$RESTART_AFTER" ]]; then
        echo "health_check: $failures consecutive failures, restarting the API"
        "$(dirname "$0")/service_restart.sh" api || true
        echo 0 > "$STATE_FILE"
    fi
else
    echo 0 > "$STATE_FILE"
fi
exit "$code"
