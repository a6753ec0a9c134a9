--- convai.backends: how the coordination concepts (`convai.limit`, `convai.capacity`, `convai.journal`)
-- find the backend that keeps their state.
--
-- Each concept has one registry. A backend is named by a word (`"process"`, `"shared_dict"`, `"file"`)
-- or by the scheme of a URL (`"redis://host:6379/0"` selects the backend registered as `redis`), so a
-- backend added later (a host-wide file store, Redis) plugs in with one `register` call and no change to
-- the concept or its callers. See docs/coordination.md.
--
-- @module convai.backends
local errors = require "convai.errors"

local type, pairs, ipairs, tostring, setmetatable = type, pairs, ipairs, tostring, setmetatable
local sort, concat = table.sort, table.concat
local match, find = string.match, string.find

local _M = {}

local invalid = errors.invalid

local registry_mt = {}
registry_mt.__index = registry_mt

--- Make the registry of one concept.
-- @tparam string concept what the backends keep, for messages (e.g. `"limit"`)
-- @tparam table builtins `{[name] = backend}`, the backends that ship with convai
-- @tparam[opt] table needs the functions every backend has (default `{"new"}`)
-- @treturn table the registry (`register`, `resolve`, `names`)
function _M.registry(concept, builtins, needs)
  local self = setmetatable({ concept = concept, backends = {}, needs = needs or { "new" } }, registry_mt)
  for name, backend in pairs(builtins) do self.backends[name] = backend end
  return self
end

--- Add (or replace) a backend.
-- @tparam string name a word, or a URL scheme (`"redis"` serves `redis://...` stores)
-- @tparam table backend the backend module (its contract is the concept's; see docs/coordination.md)
-- @treturn boolean|nil true
-- @treturn[2] convai.error kind `invalid_argument`
function registry_mt:register(name, backend)
  if type(name) ~= "string" or not match(name, "^%a[%w_+.-]*$") then
    return invalid("a %s backend name must be a word or a URL scheme, got %s", self.concept, tostring(name))
  end
  for _, fn in ipairs(self.needs) do
    if type(backend) ~= "table" or type(backend[fn]) ~= "function" then
      return invalid("a %s backend must be a table with the functions %s", self.concept,
        concat(self.needs, ", "))
    end
  end
  self.backends[name] = backend
  return true
end

--- The names of the registered backends, sorted, as one string for messages.
-- @treturn string e.g. `"process, shared_dict"`
function registry_mt:names()
  local list = {}
  for name in pairs(self.backends) do list[#list + 1] = name end
  sort(list)
  return concat(list, ", ")
end

--- The backend a `store` value names.
-- A URL is never quoted whole in an error (it may carry a password): only its scheme is.
-- @tparam string store a backend name or a URL
-- @tparam[opt] string fallback the backend for a value that is neither (e.g. a journal's file path)
-- @treturn table|nil the backend
-- @treturn string the name it is registered under
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument`
function registry_mt:resolve(store, fallback)
  if type(store) ~= "string" or store == "" then
    return invalid("%s store must be a name (%s) or a URL, got %s", self.concept, self:names(), type(store))
  end
  local backend = self.backends[store]
  if backend then return backend, store end
  local scheme = match(store, "^([^:/@]*)://")
  if scheme then
    backend = self.backends[scheme]
    if backend then return backend, scheme end
    return invalid("unknown %s store scheme %s:// (known: %s)", self.concept, scheme, self:names())
  end
  if fallback then return self.backends[fallback], fallback end
  if find(store, "[:@/]") then
    return invalid("unknown %s store: not a name (%s) nor a URL", self.concept, self:names())
  end
  return invalid("unknown %s store %q (known: %s)", self.concept, store, self:names())
end

--- The backend `opts.store` names (`default` when absent), once every key of `opts` is checked to be
-- one of the concept's options or of the backend's `OPTIONS`.
-- @tparam table opts the caller's options
-- @tparam table common `{[name] = true}`, the options of every backend
-- @tparam string default the store when `opts.store` is nil
-- @treturn table|nil the backend
-- @treturn string the name it is registered under
-- @treturn[2] nil
-- @treturn[2] convai.error kind `invalid_argument` (an unknown store or option)
function registry_mt:select(opts, common, default)
  local backend, name = self:resolve(opts.store == nil and default or opts.store)
  if not backend then return nil, name end
  local own = backend.OPTIONS or {}
  for k in pairs(opts) do
    if not common[k] and not own[k] then
      local list = {}
      for o in pairs(common) do list[#list + 1] = o end
      for o in pairs(own) do list[#list + 1] = o end
      sort(list)
      return invalid("unknown %s option %s for store %s (known: %s)", self.concept, tostring(k), name,
        concat(list, ", "))
    end
  end
  return backend, name
end

return _M
