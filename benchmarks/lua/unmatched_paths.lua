-- An unmatched request at 10,000 exact routes (`/items/{i}`), a new path each request:
-- 10,000 paths in turn (`/items/{i}x`), more than the near-miss pools kept (64), so
-- every request scores its near misses afresh. Formatted in init(), then reused.
local paths = 10000
local requests = {}
local n = 0

function init(args)
  for i = 1, paths do
    requests[i] = wrk.format("GET", "/items/" .. (i - 1) .. "x")
  end
end

function request()
  n = n % paths + 1
  return requests[n]
end
