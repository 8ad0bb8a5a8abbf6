#!/usr/bin/env bash
# A shell test on a shared controlplane: its own session, a route, a call, a verify.
# Usage: session.sh ADMIN_URL
set -euo pipefail
ADMIN=$1

session=$(curl -sf -X POST "$ADMIN/api/sessions" -d '{"name": "curl"}')
field() { sed -E "s/.*\"$1\": ?\"([^\"]*)\".*/\1/" <<<"$session"; }
api=$(field admin_url)
mock=$(field mock_url)
trap 'curl -sf -X DELETE "$api" >/dev/null' EXIT

curl -sf -X POST "$api/routes" -d '{"method": "GET", "path": "/who", "handler": "who",
  "response": {"type": "raw", "body": "curl"}}' >/dev/null

for _ in 1 2 3; do
  [ "$(curl -sf "$mock/who")" = "curl" ] || { echo "wrong answer" >&2; exit 1; }
done
curl -sf -X POST "$api/handlers/who/verify" -d '{"times": 3}' | grep -q '"ok":true'
echo "curl session ok"
