--- convai.status.receiver_conf: the nginx.conf template of `convai receive` (placeholders `${name}` as
-- for `convai.launch.nginx.conf`: `dir` the state directory, `port`, `root` the directory holding
-- convai/*.lua, `cpath` the one holding the LuaJIT build of convai/core.so, `load_modules`).
--
-- @module convai.status.receiver_conf
return [[
# nginx.conf of a convai status receiver on port ${port}, written by `convai receive start`.
${load_modules}
daemon on;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
lock_file ${dir}/nginx.lock;
error_log ${dir}/error.log warn;

events {
    worker_connections 1024;
}

http {
    access_log off;
    default_type application/json;
    client_body_temp_path ${dir}/client_body_temp;
    proxy_temp_path ${dir}/proxy_temp;
    fastcgi_temp_path ${dir}/fastcgi_temp;
    uwsgi_temp_path ${dir}/uwsgi_temp;
    scgi_temp_path ${dir}/scgi_temp;
    client_max_body_size 1m;
    client_body_buffer_size 1m;
    keepalive_timeout 65;
    server_tokens off;

    lua_package_path "${root}/?.lua;${root}/?/init.lua;;";
    lua_package_cpath "${cpath}/?.so;;";
    init_by_lua_block {
        -- Load everything and open the store now, in the master: the workers may not read these files.
        require("convai.status.receiver").init("${dir}/store")
    }

    server {
        listen 127.0.0.1:${port};
        server_name localhost;
        location = /vonage/status {
            content_by_lua_block {
                require("convai.status.receiver").handle()
            }
        }
        location = /_receiver/health {
            return 200 '{"ok":true}';
        }
        location / {
            return 404 '{"error":"Not Found","message":"status callbacks go to POST /vonage/status"}';
        }
    }
}
]]
