--- Sequential case, LuaSocket + lua-cjson (Debian's lua-socket and lua-cjson, Lua 5.4): N
-- voicebot.studio usage queries over one kept-alive TCP connection with a minimal HTTP/1.1 exchange
-- written by hand (`socket.http` sends `Connection: close` and cannot keep a connection alive), each
-- decoded with cjson to the typed result (integers checked, remaining computed). Plain http:// only.
-- Prints one JSON line `{"n","ok","seconds","checksum"}`. Usage: lua5.4 bench/lua/seq_luasocket.lua N
local socket = require "socket"
local cjson = require "cjson"

local n = math.tointeger(tonumber(arg[1] or "5000"))
local base = assert(os.getenv("CONVAI_VOICEBOT_URL"))
local token = assert(os.getenv("CONVAI_VOICEBOT_TOKEN"))
local host, port, prefix = base:match("^http://([^:/]+):?(%d*)(.*)$")
port = tonumber(port) or 80
local tointeger = math.tointeger

local conn
local function connect()
  conn = assert(socket.tcp())
  conn:settimeout(30)
  assert(conn:connect(host, port))
  conn:setoption("tcp-nodelay", true)
end

-- One request on the kept-alive connection; reconnects once if the server closed it.
local function get(path, retried)
  if not conn then connect() end
  local sent = conn:send("GET " .. prefix .. path .. " HTTP/1.1\r\nHost: " .. host .. ":" .. port
    .. "\r\nAuthorization: Bearer " .. token .. "\r\nAccept: application/json\r\n\r\n")
  local line = sent and conn:receive("*l")
  if not line then
    conn:close()
    conn = nil
    if retried then error("connection lost") end
    return get(path, true)
  end
  local status = tonumber(line:match("^HTTP/1%.%d (%d%d%d)"))
  local length, close
  while true do
    local h = assert(conn:receive("*l"))
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    name = name:lower()
    if name == "content-length" then length = tonumber(value)
    elseif name == "connection" and value:lower() == "close" then close = true end
  end
  local body = assert(conn:receive(length))
  if close then conn:close() conn = nil end
  return status, body
end

local ok, checksum = 0, 0
local t0 = socket.gettime()
for i = 0, n - 1 do
  local status, body = get("/whatsapp/agent-usage?agent_id=" .. (i % 100 + 1))
  if status == 200 then
    local bi = cjson.decode(body).data.business_initiated
    -- Debian's lua-cjson 2.1.0 decodes every number as a float on Lua 5.4
    local usage, limit = tointeger(bi.current_usage), tointeger(bi.current_limit)
    if usage and limit and type(bi.limit_exhausted) == "boolean" then
      local r = { current_usage = usage, current_limit = limit, limit_exhausted = bi.limit_exhausted,
                  remaining = limit > usage and limit - usage or 0 }
      ok = ok + 1
      checksum = checksum + r.remaining
    end
  end
end
local seconds = socket.gettime() - t0
if conn then conn:close() end
io.write(string.format('{"n":%d,"ok":%d,"seconds":%.6f,"checksum":%d}\n', n, ok, seconds, checksum))
os.exit(ok == n and 0 or 1)
