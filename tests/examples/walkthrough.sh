#!/usr/bin/env bash
# The README's curl walk-through, run by tests/test_docs_examples.py against a real server.
#
#   tests/examples/walkthrough.sh MOCK_URL ADMIN_URL
#
# Every `curl` line, with $MOCK and $ADMIN spelled out as http://127.0.0.1:8080 and
# http://127.0.0.1:8081 and without its `| expect ...` check, appears in README.md.
set -euo pipefail
MOCK=$1
ADMIN=$2
source "$(dirname "$0")/expect.sh"

# A route with an inline response, then a call to it.
curl -s -X POST $ADMIN/api/routes -d '{"method": "GET", "path": "/users/{id}", "handler": "get_user", "response": {"type": "json", "body": {"id": 42, "name": "Whiskers"}}}' | expect '"handler":"get_user"'
curl -s -w ' %{http_code}\n' $MOCK/users/42 | expect '{"id":42,"name":"Whiskers"} 200'

# Change the handler's behaviour mid-test.
curl -s -X PUT $ADMIN/api/handlers/get_user/response -d '{"type": "json", "status": 404, "body": {"error": "no such user"}}' | expect '"status":404'
curl -s -w ' %{http_code}\n' $MOCK/users/7 | expect '{"error":"no such user"} 404'

# What the handler received, and a verification.
curl -s $ADMIN/api/handlers/get_user/calls | expect '"path_params":{"id":"7"}'
curl -s -X POST $ADMIN/api/handlers/get_user/verify -d '{"times": 2, "headers": {"accept": "*/*"}}' | expect '{"ok":true,"count":2,"evicted":0}'
curl -s -X POST $ADMIN/api/handlers/get_user/verify -d '{"times": 3}' | expect '"ok":false,"count":2'

# A request no route matches: 404 with near misses, and journaled as unmatched.
curl -s -w ' %{http_code}\n' $MOCK/user/42 | expect '"expected":"/users/{id}","actual":"/user/42"'
curl -s $ADMIN/api/requests/unmatched | expect '"path":"/user/42"'

# A session of one's own: isolated routes and journal, its own base URLs.
curl -s -X POST $ADMIN/api/sessions -d '{"id": "checkout"}' | expect "\"mock_url\":\"$MOCK/_s/checkout\""
curl -s -X POST $ADMIN/api/sessions/checkout/routes -d '{"method": "GET", "path": "/users/{id}", "handler": "get_user", "response": {"type": "json", "body": {"id": 1, "from": "checkout"}}}' | expect '"handler":"get_user"'
curl -s -w ' %{http_code}\n' $MOCK/_s/checkout/users/1 | expect '{"id":1,"from":"checkout"} 200'
curl -s -w ' %{http_code}\n' -H 'X-Controlplane-Session: checkout' $MOCK/users/1 | expect '{"id":1,"from":"checkout"} 200'
curl -s -X DELETE -w '%{http_code}\n' $ADMIN/api/sessions/checkout | expect '204'
