#!/usr/bin/env bash
# daily_backup.sh: logical backup of the orchestrator database in pg_dump's custom format.
#
# Configuration (environment first, then the project's .env for unset names):
#   ENV_FILE               .env to read (default /opt/ordinaut/.env)
#   BACKUP_DATABASE_URL    libpq URL to dump (default: DATABASE_URL)
#   BACKUP_DIR             where dumps go (default /backups/postgres)
#   BACKUP_RETENTION_DAYS  dumps older than this are deleted (default 14)
#   PG_DUMP / PG_RESTORE   binaries to use (default pg_dump / pg_restore on PATH)
# Exit status: 0 on success, 1 when the dump or its verification failed.
set -euo pipefail

load_env_file() {
    local file="$1" key value
    [[ -r "$file" ]] || return 0
    while IFS='=' read -r key value || [[ -n "$key" ]]; do
        [[ -z "$key" || "$key" == \#* ]] && continue
        if [[ -z "${!key+x}" ]]; then
            export "$key=$value"
        fi
    done < "$file"
}

load_env_file "${ENV_FILE:-/opt/ordinaut/.env}"

BACKUP_DIR="${BACKUP_DIR:-/backups/postgres}"
RETENTION_DAYS="${BACKUP_RETENTION_DAYS:-14}"
PG_DUMP="${PG_DUMP:-pg_dump}"
PG_RESTORE="${PG_RESTORE:-pg_restore}"
DSN="${BACKUP_DATABASE_URL:-${DATABASE_URL:-}}"

if [[ -z "$DSN" ]]; then
    echo "daily_backup: neither BACKUP_DATABASE_URL nor DATABASE_URL is set" >&2
    exit 1
fi

umask 077
mkdir -p "$BACKUP_DIR"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
target="$BACKUP_DIR/orchestrator_${stamp}.dump"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT

"$PG_DUMP" --format=custom --compress=6 --file="$partial" "$DSN"
# An archive that pg_restore cannot list is not a backup.
"$PG_RESTORE" --list "$partial" > /dev/null
mv "$partial" "$target"
(cd "$BACKUP_DIR" && sha256sum "$(basename "$target")" > "$(basename "$target").sha256")

find "$BACKUP_DIR" -maxdepth 1 -name 'orchestrator_*.dump*' -mtime +"$RETENTION_DAYS" -delete

echo "daily_backup: wrote $target ($(stat -c %s "$target") bytes)"
