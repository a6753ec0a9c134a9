--- convai.capacity.shared_dict: the nginx backend of `convai.capacity`: a `lua_shared_dict`.
--
-- The dict itself is the store (its `get`, `set`, `add` and `delete` are atomic across the workers).
-- It lives as long as nginx (a reload keeps it, a restart empties it: the next `get` asks the vendor).
-- Keys, under the capacity's prefix: `AGENT` (the agent's `convai.capacity.ledger` document: the last
-- read and the reservations since, JSON), `AGENT:mutex` (a worker is changing it), `AGENT:lock` (a
-- worker is asking the vendor).
--
-- @module convai.capacity.shared_dict
local runtime = require "convai.runtime"

local _M = { OPTIONS = { dict = true } }

--- The store: the `lua_shared_dict` named `opts.dict`.
-- @tparam table opts `{dict = name}`
-- @treturn table|nil the dict
-- @treturn[2] convai.error kind `invalid_argument` (no such dict, or outside nginx)
function _M.new(opts)
  return runtime.shared_dict(opts.dict)
end

return _M
