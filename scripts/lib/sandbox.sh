# Sourced by scripts/spec, scripts/test and scripts/test-memory: start the checkout's sandbox for the
# specs on a free loopback port (never a fixed one), under DIR, and export what the specs read:
# CONVAI_SANDBOX_DIR, XDG_STATE_HOME (the host limit store's files: never the real home's),
# CONVAI_TEST_SANDBOX and the sandbox's own variables. A port taken between the check and nginx's bind
# (other test runs on the machine) is met by trying another, up to 5 times; a failure prints nginx's
# own words. Returns non-zero when the sandbox could not start.
start_test_sandbox() {
  local dir=$1 port out attempt
  export CONVAI_SANDBOX_DIR="$dir/sandbox"
  export XDG_STATE_HOME="$dir/state"
  for attempt in 1 2 3 4 5; do
    port=$(lua5.4 -e 'math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16))
      print(math.random(20000, 50000))')
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    if out=$(lua5.4 bin/convai sandbox start --port "$port" 2>"$dir/sandbox-start.err"); then
      eval "$out"
      export CONVAI_TEST_SANDBOX="http://127.0.0.1:$port"
      return 0
    fi
    echo "sandbox start on port $port failed (attempt $attempt): $(tr '\n' ' ' <"$dir/sandbox-start.err")" >&2
    lua5.4 bin/convai sandbox stop >/dev/null 2>&1
  done
  return 1
}
