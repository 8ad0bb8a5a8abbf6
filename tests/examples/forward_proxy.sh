#!/usr/bin/env bash
# docs/reference/forward-proxy.md's curl commands, run by tests/test_docs_examples.py.
#
#   tests/examples/forward_proxy.sh MOCK_URL ADMIN_URL
#
# Every `curl` line, with $MOCK and $ADMIN spelled out as http://127.0.0.1:8080 and
# http://127.0.0.1:8081 and without its `| expect ...` check, appears in the doc. The
# "real destination" is the admin port's /health: only loopback is ever reached.
set -euo pipefail
MOCK=$1
ADMIN=$2
source "$(dirname "$0")/expect.sh"

curl -s -X POST -w '%{http_code}\n' $ADMIN/api/reset | expect '204'
curl -s -X PUT $ADMIN/api/settings -d '{"passthrough_unmatched": true}' | expect '"passthrough_unmatched":true'
curl -s -X POST $ADMIN/api/routes -d '{"method": "POST", "path": "/charge", "handler": "charge", "match": {"host": "payments.test"}, "response": {"type": "json", "status": 201, "body": {"id": "ch_1"}}}' | expect '"handler":"charge"'
curl -s -w ' %{http_code}\n' -x $MOCK -X POST http://payments.test/charge | expect '{"id":"ch_1"} 201'
curl -s -x $MOCK $ADMIN/health | expect '"status":"ok"'
curl -s -X PUT $ADMIN/api/settings -d '{"passthrough_unmatched": true, "proxy_auth": "me:secret"}' | expect '"proxy_auth":"me:secret"'
curl -s -o /dev/null -w '%{http_code}\n' -x $MOCK -X POST http://payments.test/charge | expect '407'
curl -s -w ' %{http_code}\n' -x $MOCK -U me:secret -X POST http://payments.test/charge | expect '{"id":"ch_1"} 201'
curl -s $ADMIN/api/requests | expect '"error":"proxy_auth_required"'
