-- Capacity across processes (issue 11 §2): two `convai campaign run --gate-voicebot-agent N` started at
-- once on one voicebot.studio agent reserve each send in the store of --limits / CONVAI_LIMITS (host by
-- default, or redis://), so that together they send exactly the capacity the sandbox gives, and neither
-- meets voicebot.studio's `limit_exhausted` refusal. With Redis each process has its own HOME and
-- XDG_STATE_HOME, so only Redis can coordinate them.
local helper = require "helper"
local ch = require "campaign_helper"
local redis_helper = require "redis_helper"
local core = require "convai.core"

local scratch = ch.scratch()
local path, write, read = scratch.path, scratch.write, scratch.read

local SEND = "/voicebot/third-party/v1/whatsapp/send-template"

local command = ch.cli_command

local function recipients(k, n) return ch.campaign_csv(k, n, "name") end

local run_id = tostring(os.time()) .. tostring(math.random(1000, 9999))

-- Two gated campaigns of 10 recipients at once on voicebot agent `agent` (capacity 6); `env_of(k)` the
-- environment of campaign k. Returns the two summaries.
local function two_campaigns(tag, agent, env_of)
  helper.config { voicebot = { agents = { [tostring(agent)] = { limit = 6, usage = 0 } } } }
  local jobs = {}
  for k = 1, 2 do
    local name = tag .. k
    local csv = write(name .. ".csv", recipients(k, 10))
    local args = { "campaign", "run", csv, "--provider", "voicebot", "--channel", "whatsapp", "--agent-id",
      tostring(agent), "--template", "welcome", "--gate-voicebot-agent", tostring(agent), "--journal",
      path(name .. ".journal"), "--rate", "5", "--format", "json" }
    jobs[#jobs + 1] = "(" .. command(args, env_of(k), path(name .. ".out"), path(name .. ".err"))
      .. "; echo $? >" .. path(name .. ".code") .. ") &"
  end
  assert(os.execute(table.concat(jobs, " ") .. " wait"))
  local sums = {}
  for k = 1, 2 do
    local name = tag .. k
    local code = read(path(name .. ".code")):match("%d+")
    local out, err = read(path(name .. ".out")), read(path(name .. ".err"))
    assert.is_truthy(code == "0" or code == "1", "exit " .. tostring(code) .. ": " .. err)
    sums[k] = helper.decode(out)
  end
  local accepted, refused = 0, 0
  for _, e in ipairs(helper.log()) do
    if e.method == "POST" and e.path == SEND then
      if e.status == 200 then accepted = accepted + 1 else refused = refused + 1 end
    end
  end
  assert.equal(6, accepted, "conversations opened by the two campaigns together")
  assert.equal(0, refused, "limit_exhausted refusals met")
  assert.equal(6, sums[1].sent + sums[2].sent)
  for k = 1, 2 do
    assert.equal(0, sums[k].failed, "campaign " .. k)
    if sums[k].sent < 10 then assert.equal("capacity", sums[k].stopped, "campaign " .. k) end
  end
  return sums
end

describe("capacity across processes", function()
  before_each(helper.reset)
  teardown(function() scratch.remove() end)

  it("two gated campaigns on one agent, host store (the default): exactly the capacity, no refusal", function()
    two_campaigns("host", 400 + math.random(1, 99), function() return {} end)
  end)

  describe("on Redis", function()
    if not (redis_helper.available() and type(core.redis) == "function") then
      it("needs redis-server and core.redis", function() pending("redis-server or core.redis missing") end)
      return
    end
    local r
    lazy_setup(function() r = redis_helper.start { password = "cap-cli-" .. run_id } end)
    lazy_teardown(function() if r then r.stop() end end)

    it("two gated campaigns, each with its own HOME: exactly the capacity, no refusal", function()
      two_campaigns("redis", 500 + math.random(1, 99), function(k)
        local home = path("home" .. k)
        assert(os.execute("mkdir -p " .. home .. " && chmod 700 " .. home))
        return { HOME = home, XDG_STATE_HOME = home .. "/state", CONVAI_LIMITS = r.url }
      end)
      local ok, keys = r.cli("KEYS", "convai:capacity:*")
      assert(ok, keys)
      assert.matches("convai:capacity:", keys, 1, true)
    end)

    it("refuses to start when the store is malformed, naming the setting; nothing sent", function()
      local csv = write("bad.csv", recipients(3, 2))
      local code, _, err = helper.cli({ "campaign", "run", csv, "--provider", "voicebot", "--channel", "whatsapp",
        "--agent-id", "7", "--template", "welcome", "--gate-voicebot-agent", "7", "--journal", path("bad.journal"),
        "--limits", "memcached://h:1" })
      assert.equal(2, code, err)
      assert.matches("unknown", err, 1, true)
      assert.same({}, helper.log())
    end)
  end)
end)
