-- Pipelined load: each write carries 16 requests for the url wrk was given (the method
-- TechEmpower's plaintext test uses). wrk counts every answer, and spends far less CPU
-- per request than unpipelined, so on a machine whose cores the servers need, it
-- leaves them more. Formatted in init(), once wrk has set the Host header.
local depth = 16
local batch

function init(args)
  local requests = {}
  for i = 1, depth do
    requests[i] = wrk.format(nil)
  end
  batch = table.concat(requests)
end

function request()
  return batch
end
