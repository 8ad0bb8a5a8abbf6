-- The last of 10,000 template routes (`GET /svc9999/items/{id}`) with a new id each
-- request: 10,000 ids in turn, more than the route table keeps looked-up paths for
-- (256), so every request walks the index. Requests are formatted in init(), then reused.
local ids = 10000
local requests = {}
local n = 0

function init(args)
  for i = 1, ids do
    requests[i] = wrk.format("GET", "/svc9999/items/" .. i)
  end
end

function request()
  n = n % ids + 1
  return requests[n]
end
