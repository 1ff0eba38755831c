#!/usr/bin/env bash
# service_restart.sh: restart one compose service and wait until the API is healthy again.
#
#   service_restart.sh SERVICE [TIMEOUT_SECONDS]
# Environment: COMPOSE_CMD (default "docker compose"), COMPOSE_DIR (default /opt/ordinaut/ops),
# COMPOSE_FILES (default "docker-compose.yml docker-compose.prod.yml"),
# API_URL (default http://localhost:8080).
set -euo pipefail

service="${1:?usage: service_restart.sh SERVICE [TIMEOUT_SECONDS]}"
timeout="${2:-120}"
COMPOSE_CMD="${COMPOSE_CMD:-docker compose}"
COMPOSE_DIR="${COMPOSE_DIR:-/opt/ordinaut/ops}"
COMPOSE_FILES="${COMPOSE_FILES:-docker-compose.yml docker-compose.prod.yml}"
API_URL="${API_URL:-http://localhost:8080}"

args=()
for f in $COMPOSE_FILES; do
    args+=(-f "$COMPOSE_DIR/$f")
done

echo "service_restart: restarting $service"
# shellcheck disable=SC2086
$COMPOSE_CMD "${args[@]}" restart "$service"

deadline=$(( $(date +%s) + timeout ))
until curl --silent --fail --max-time 5 "$API_URL/health/ready" > /dev/null; do
    if [[ $(date +%s) -ge $deadline ]]; then
        echo "service_restart: $service restarted but the API is not ready after ${timeout}s" >&2
        exit 1
    fi
    sleep 2
done
echo "service_restart: $service restarted, API ready"
