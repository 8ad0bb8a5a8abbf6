-- Spread requests over 100 sessions through the `/_s/{id}` prefix, round-robin.
-- Session ids are bench1 .. bench100; each has the route GET /hello. Requests are
-- formatted in init(), once wrk has set the Host header, then reused.
local sessions = 100
local requests = {}
local n = 0

function init(args)
  for i = 1, sessions do
    requests[i] = wrk.format("GET", "/_s/bench" .. i .. "/hello")
  end
end

function request()
  n = n % sessions + 1
  return requests[n]
end
