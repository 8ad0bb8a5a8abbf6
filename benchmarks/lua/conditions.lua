-- POST with a JSON body and headers, for the route with several match conditions
-- (headers, query, json_subset). The URL given to wrk carries the query string.
wrk.method = "POST"
wrk.body = '{"customer":{"id":42,"tier":"gold"},"items":[{"sku":"a1","qty":2}],"note":"bench"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Tenant"] = "acme"
wrk.headers["Authorization"] = "Bearer bench-token"
