--- A throwaway nginx for the specs of convai.core that need real HTTP (tests/lua/core): Debian's nginx
-- package, started on 127.0.0.1 with a config in a temporary directory. `NGINX` is nil when nginx is
-- not installed: a spec then marks its tests pending.
local helper = require "core_helper"

local run, which, write_file, read_file = helper.run, helper.which, helper.write_file, helper.read_file

local _M = {}

local NGINX = nil -- the nginx program, if installed
for _, p in ipairs { "/usr/sbin/nginx", "/usr/bin/nginx" } do
  if read_file(p) then NGINX = p break end
end
if not NGINX and which("nginx") then NGINX = "nginx" end

local BIG = 2 * 1024 * 1024 -- /big.bin and /chunked/big.html: over 1 MiB, the specs' max_body

local function nginx_conf(dir, port, tls_port)
  local tls = ""
  if tls_port then
    tls = ([[
  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s/cert.pem;
    ssl_certificate_key %s/key.pem;
    root www;
  }]]):format(tls_port, dir, dir)
  end
  return ([[
daemon on;
master_process off;
pid nginx.pid;
error_log error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path tmp_body;
  proxy_temp_path tmp_proxy;
  fastcgi_temp_path tmp_fastcgi;
  uwsgi_temp_path tmp_uwsgi;
  scgi_temp_path tmp_scgi;
  default_type application/octet-stream;
  types { text/plain txt; text/html html; }
  keepalive_requests 1000;
  server {
    listen 127.0.0.1:%d;
    root www;
    location = /echo {
      client_max_body_size 10m;
      default_type text/plain;
      return 200 "$request_method|$http_expect|$content_length|$http_x_test|$http_user_agent";
    }
    location = /headers {
      add_header X-Multi one;
      add_header X-Multi two;
      add_header X-MiXeD-Case Yes;
      default_type text/plain;
      return 200 "ok";
    }
    location = /json {
      default_type application/json;
      return 200 '{"data":{"n":7,"ok":true},"list":[1,null,"x"]}';
    }
    location /target/ {
      default_type text/plain;
      return 200 "$request_uri|$host|$connection";
    }
    location = /redirect { return 302 /index.txt; }
    location = /teapot { return 418 "short and stout"; }
    location /slow/ { limit_rate 1k; }
    location /chunked/ { ssi on; }
  }%s
}
]]):format(port, tls)
end

--- Start a throwaway nginx on 127.0.0.1 (a free port; https on the next one when openssl can make a
-- certificate for localhost). Serves /index.txt ("hello\n"), /big.bin (BIG bytes with a
-- Content-Length), /chunked/big.html (about BIG bytes, chunked), /slow/file.bin (256 KiB at 1 KiB/s),
-- /echo (the request's method, Expect, Content-Length, X-Test and User-Agent, "|"-separated),
-- /headers (X-Multi twice, X-MiXeD-Case), /json (a JSON object), /target/... (the request target as received, the Host and
-- the connection's serial number, "|"-separated), /redirect (302), /teapot (418).
-- @treturn table `{dir, port, base, tls_base}`: `base` "http://127.0.0.1:PORT"; `tls_base`
--   "https://localhost:PORT" or nil; `dir` holds cert.pem
-- @raise when nginx does not start
function _M.start()
  local dir = os.tmpname()
  os.remove(dir)
  assert(run("mkdir -p '" .. dir .. "/www/slow' '" .. dir .. "/www/chunked'"))
  write_file(dir .. "/www/index.txt", "hello\n")
  write_file(dir .. "/www/big.bin", string.rep("x", BIG))
  write_file(dir .. "/www/slow/file.bin", string.rep("s", 256 * 1024))
  write_file(dir .. "/www/chunked/big.html", string.rep("<p>c</p>\n", math.floor(BIG / 9)))
  local tls = which("openssl") and run(("openssl req -x509 -newkey rsa:2048 "
    .. "-nodes -keyout '%s/key.pem' -out '%s/cert.pem' -days 2 "
    .. "-subj /CN=localhost -addext subjectAltName=DNS:localhost "
    .. ">/dev/null 2>&1"):format(dir, dir))
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  for _ = 1, 8 do
    local port = math.random(20000, 59999)
    local tls_port = tls and port + 1 or nil
    write_file(dir .. "/nginx.conf", nginx_conf(dir, port, tls_port))
    if run(("%s -p '%s' -c '%s/nginx.conf' -e '%s/error.log' >/dev/null "
      .. "2>&1"):format(NGINX, dir, dir, dir)) then
      return { dir = dir, port = port,
        base = ("http://127.0.0.1:%d"):format(port),
        tls_base = tls and ("https://localhost:%d"):format(tls_port) }
    end
  end
  run("rm -rf '" .. dir .. "'")
  error("could not start nginx")
end

--- Stop a server that `start` returned and remove its directory (nil: nothing to do).
function _M.stop(server)
  if not server then return end
  local pid = read_file(server.dir .. "/nginx.pid")
  if pid and pid:match("^%d+") then run("kill " .. pid:match("^%d+")) end
  run("rm -rf '" .. server.dir .. "'")
end

_M.NGINX = NGINX
_M.BIG = BIG

return _M
