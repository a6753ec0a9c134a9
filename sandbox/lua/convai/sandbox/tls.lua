-- The sandbox's test certificates: a CA and a server certificate for 127.0.0.1 and localhost signed by
-- it, made with the openssl command and the extensions of sandbox/conf/openssl.cnf whenever a sandbox
-- starts with `tls = true` (nothing is kept in the repository). For tests only: the CA's key stays
-- beside it. Part of the launcher (plain Lua 5.4).

local system = require("convai.launch.system")

local quote = system.quote

local _M = {}

--- Make a test CA and a server certificate for `127.0.0.1` and `localhost` signed by it, with the
-- openssl command (P-256 keys): `ca.pem`, `ca.key`, `server.pem`, `server.key` in `dir`, which is
-- created if missing. Existing files are replaced.
-- @tparam string dir directory (a relative one is taken from `$PWD`)
-- @tparam[opt=30] integer days validity of both certificates, in days
-- @treturn table|nil `{ca = path, cert = path, key = path}` (absolute paths)
-- @treturn string error: openssl missing or failing (with its output), the directory not writable,
--   a relative `dir` without `$PWD`, sandbox/conf/openssl.cnf not found
function _M.make(dir, days)
  local err
  dir, err = system.absolute(dir)
  if not dir then
    return nil, err
  end
  days = days or 30
  local ok, out = system.run("command -v openssl")
  if not ok or not out:match("%S") then
    return nil, "openssl not found (install the openssl package)"
  end
  local cnf
  cnf, err = system.template("openssl.cnf")
  if not cnf then
    return nil, err
  end
  ok, err = system.mkdir(dir)
  if not ok then
    return nil, err
  end
  local f = { ca = dir .. "/ca.pem", ca_key = dir .. "/ca.key", csr = dir .. "/server.csr",
    cert = dir .. "/server.pem", key = dir .. "/server.key" }
  local newkey = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -config " .. quote(cnf)
  local steps = {
    "openssl req -x509" .. newkey .. " -extensions ca_ext -keyout " .. quote(f.ca_key) .. " -out "
      .. quote(f.ca) .. " -days " .. days .. " -subj '/CN=convai sandbox test CA'",
    "openssl req -new" .. newkey .. " -keyout " .. quote(f.key) .. " -out " .. quote(f.csr)
      .. " -subj /CN=localhost",
    "openssl x509 -req -in " .. quote(f.csr) .. " -CA " .. quote(f.ca) .. " -CAkey " .. quote(f.ca_key)
      .. " -set_serial 0x" .. string.format("%x%06x", os.time(), math.random(0, 0xffffff)) .. " -out "
      .. quote(f.cert) .. " -days " .. days .. " -extfile " .. quote(cnf) .. " -extensions server_ext",
  }
  for _, cmd in ipairs(steps) do
    ok, out = system.run(cmd)
    if not ok then
      return nil, "openssl failed: " .. out:gsub("%s+$", "")
    end
  end
  os.remove(f.csr)
  return { ca = f.ca, cert = f.cert, key = f.key }
end

return _M
