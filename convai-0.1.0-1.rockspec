-- LuaRocks package: builds the C core with the project's CMakeLists.txt and installs it, the Lua layer
-- (lua/convai) and the `convai` command. Debian: `luarocks --lua-version=5.4 make --deps-mode=none
-- convai-0.1.0-1.rockspec` when lua-cjson and lua-argparse come from Debian's packages (as
-- scripts/quickstart does). The sandbox emulator that `convai sandbox start` runs is not in this rock:
-- it is sandbox/convai-sandbox-0.1.0-1.rockspec (scripts/install installs both).
rockspec_format = "3.0"
package = "convai"
version = "0.1.0-1"
source = {
  url = "git+file:///dev/null",
}
description = {
  summary = "Script conversational-AI platforms from Lua: voicebot.studio, Avaamo, Vonage AI Studio",
  detailed = [[
convai is a Lua extension module with a C core (libcurl, lua-cjson, hiredis): clients for the
voicebot.studio Client API (WhatsApp agent usage), Avaamo analytics (agent usage) and Vonage AI Studio
(outbound WhatsApp triggers) and a `convai` command line. The local sandbox that emulates the three APIs is
its own rock, convai-sandbox.
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson >= 2.1.0",
  "argparse >= 0.7",
}
-- libcurl is found by CMakeLists.txt the CMake way (FindCURL), which knows Debian's multiarch layout
-- (/usr/include/x86_64-linux-gnu/curl) where LuaRocks' external_dependencies lookup does not; hiredis
-- (Debian libhiredis-dev, the Redis client under core.redis) by pkg-config.
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CONVAI_LUA54_LIBDIR = "$(LIBDIR)",
    CONVAI_LUA54_LUADIR = "$(LUADIR)",
    CONVAI_LUA_INCDIR = "$(LUA_INCDIR)",
    CONVAI_WITH_LUAJIT = "OFF",
    CONVAI_INSTALL_BIN = "OFF",
  },
  install = {
    bin = { convai = "bin/convai" },
  },
}
