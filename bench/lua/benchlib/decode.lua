--- bench/run's decode case (`--only decode`): instructions per decode of each JSON decoder path, for the
-- two vendor bodies of the throughput cases (issue 14). Each path runs bench/lua/decode_cost.lua under
-- `valgrind --tool=callgrind` for n1 and n2 decodes of the same body; per decode = difference / (n2 - n1),
-- so start-up and the first decode cancel out. No server: the bodies are the sandbox's, kept in
-- bench/data/.
local callgrind = require "benchlib.callgrind"
local U = require "benchlib.util"

local _M = {}

local PATHS = {
  { id = "cjson", label = "lua-cjson `decode` alone (the reference: nulls as `cjson.null`, no integers)" },
  { id = "core", label = "`core.json_decode`: the core's one-pass decoder (integers, nulls absent)" },
  { id = "core_typed", label = "`core.json_decode`, then typing with `core.field_checker` (the clients "
    .. "before `json_decoder`)" },
  { id = "core_shape", label = "**`core.json_decoder`**: decoded and typed in one pass (Avaamo's client "
    .. "now)" },
  { id = "core_pick", label = "**`core.json_decoder` with `pick`**: only `data.business_initiated` made "
    .. "(voicebot's client now)", only = "voicebot-agent-usage.json" },
}
local BODIES = {
  { file = "avaamo-usage.json", label = "Avaamo" },
  { file = "voicebot-agent-usage.json", label = "voicebot" },
}

-- Whether a path decodes a body (a path for one vendor's decoder has `only`, that body's file).
local function applies(path, body) return path.only == nil or path.only == body.file end

--- Run the case.
-- @tparam table p `{quick = boolean, ROOT = checkout, TMP = directory, lua_cmd = function, say = function,
--   failed = function, section = function(title, body)}`
function _M.run(p)
  local n1, n2 = 200, p.quick and 400 or 2200
  local per = {}
  for _, path in ipairs(PATHS) do
    per[path.id] = {}
    for _, body in ipairs(BODIES) do
      local files = applies(path, body) and {} or nil
      if files then p.say("decode: %s %s", path.id, body.file) end
      for i, n in ipairs(files and { n1, n2 } or {}) do
        files[i] = p.TMP .. "/callgrind.decode." .. path.id .. "." .. body.file .. "." .. n
        local ok, _, err = U.run("valgrind --tool=callgrind --callgrind-out-file=" .. U.quote(files[i]) .. " "
          .. p.lua_cmd("decode_cost.lua", path.id, n, p.ROOT .. "/bench/data/" .. body.file))
        if not ok then
          p.failed("decode " .. path.id, (err or ""):match("[^\n]*lua5.4:[^\n]*") or "exit status not 0")
          files = nil
          break
        end
      end
      if files then
        local r = callgrind.per_operation(files[1], files[2], n1, n2)
        per[path.id][body.file] = r.total
      end
    end
  end
  local rows = {}
  local ref = per.cjson
  for _, path in ipairs(PATHS) do
    local row = { path.label }
    for _, body in ipairs(BODIES) do
      local v = per[path.id][body.file]
      row[#row + 1] = v and U.int(v) or (applies(path, body) and "failed" or "–")
      row[#row + 1] = v and ref[body.file] and U.ratio(v / ref[body.file]) or "–"
    end
    rows[#rows + 1] = row
  end
  local sizes = {}
  for i, body in ipairs(BODIES) do
    local text = U.read(p.ROOT .. "/bench/data/" .. body.file) or ""
    sizes[i] = U.int(#text) .. " B"
  end
  p.section("JSON decoding: instructions per decode (callgrind)",
    "Each decoder path decodes the body the sandbox gives for the throughput cases (bench/data/) " .. n1
      .. " and " .. n2 .. " times under `valgrind --tool=callgrind`; per decode = difference / "
      .. (n2 - n1) .. " (bench/lua/decode_cost.lua, Lua 5.4, the checkout's build). The typed paths "
      .. "check what the clients check: Avaamo's 11 stats objects (7 integer counts, times, `success_rate` "
      .. "made a float, 9 slices), voicebot's usage object.\n\n"
      .. U.table({ "path", "Avaamo " .. sizes[1], "× cjson", "voicebot " .. sizes[2], "× cjson" }, rows))
end

return _M
