-- LuaRocks package of the convai sandbox: the local emulator of the voicebot.studio, Avaamo and Vonage
-- AI Studio APIs (nginx + ngx_lua) that `convai sandbox start|stop|status` runs. Pure Lua: the launcher
-- (convai.sandbox) and the nginx-side modules (convai.sandbox.*) from sandbox/lua/, and the templates
-- of sandbox/conf/ installed beside them (LUADIR/convai/sandbox/conf/). Needs the convai rock (the
-- launcher uses convai.core), and at run time nginx with its Lua module (Debian: nginx and
-- libnginx-mod-http-lua) and openssl for `--tls`.
-- Build it from this directory, sandbox/ (LuaRocks copies a `lua/` directory of the current directory
-- whole, so from the repository root it would also install the library's lua/): after convai's own
-- rockspec, `cd sandbox && luarocks --lua-version=5.4 make --deps-mode=none
-- convai-sandbox-0.1.0-1.rockspec` (as scripts/install does; Debian's packages give the dependencies).
rockspec_format = "3.0"
package = "convai-sandbox"
version = "0.1.0-1"
source = {
  url = "git+file:///dev/null",
}
description = {
  summary = "Local emulator of the voicebot.studio, Avaamo and Vonage AI Studio APIs for convai",
  detailed = [[
An nginx (ngx_lua) application that emulates the three vendor APIs convai talks to, with an admin API
for tests (configuration, request log, fault injection, status callbacks), and its launcher, used by
`convai sandbox start|stop|status`.
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "convai",
  "lua-cjson >= 2.1.0",
}
build = {
  type = "builtin",
  modules = {
    ["convai.sandbox"] = "lua/convai/sandbox/init.lua",
    ["convai.sandbox.tls"] = "lua/convai/sandbox/tls.lua",
    ["convai.sandbox.app"] = "lua/convai/sandbox/app.lua",
    ["convai.sandbox.common"] = "lua/convai/sandbox/common.lua",
    ["convai.sandbox.voicebot"] = "lua/convai/sandbox/voicebot.lua",
    ["convai.sandbox.whatsapp"] = "lua/convai/sandbox/whatsapp.lua",
    ["convai.sandbox.avaamo"] = "lua/convai/sandbox/avaamo.lua",
    ["convai.sandbox.avaamo_sample"] = "lua/convai/sandbox/avaamo_sample.lua",
    ["convai.sandbox.vonage"] = "lua/convai/sandbox/vonage.lua",
    ["convai.sandbox.callbacks"] = "lua/convai/sandbox/callbacks.lua",
    ["convai.sandbox.faults"] = "lua/convai/sandbox/faults.lua",
  },
  -- The templates, found by the launcher beside the modules: LUADIR/convai/sandbox/conf/<file>.
  install = {
    lua = {
      ["convai.sandbox.conf.nginx"] = "conf/nginx.conf.in",
      ["convai.sandbox.conf.openssl"] = "conf/openssl.cnf",
    },
  },
}
