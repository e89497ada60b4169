#!/usr/bin/env bash
# scripts/secret_key.sh FILE — print the SECRET_KEY kept in FILE, generating it (mode 600) the first time.
set -euo pipefail
file=$1
if [ ! -s "$file" ]; then
  mkdir -p "$(dirname "$file")"
  (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(50))' >"$file")
fi
cat "$file"
