#!/usr/bin/env bash
# Router benchmark: the same two nginx backends measured directly, through Aviary's built-in router (90/10),
# through HAProxy (90/10) and through nginx as a proxy (9:1), with wrk. Writes the figures into bench/README.md.
#
#   bench/router/run.sh                 # full run: 10 s per measurement
#   DURATION=3 ROUNDS=1 bench/router/run.sh   # quicker
#   NO_README=1 bench/router/run.sh     # print only
#
# Installs wrk, haproxy and nginx with apt-get when missing. Everything listens on 127.0.0.1 only and every process
# started here is stopped on exit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
duration="${DURATION:-10}"
rounds="${ROUNDS:-3}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
# Moderate load: few connections, each pausing 2 ms between requests (a wrk Lua delay), far below saturation.
moderate_connections="${MODERATE_CONNECTIONS:-16}"
moderate_delay_ms="${MODERATE_DELAY_MS:-2}"
warmup="${WARMUP:-5}"
base_port="${BASE_PORT:-18080}"
backend_a=$((base_port + 1)) backend_b=$((base_port + 2))
router_port=$((base_port + 10)) haproxy_port=$((base_port + 11)) nginx_port=$((base_port + 12))

# ---- tools -----------------------------------------------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx)
if ((${#need[@]})); then
  echo "installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v dotnet >/dev/null || { echo "dotnet is required" >&2; exit 1; }

for port in "$backend_a" "$backend_b" "$router_port" "$haproxy_port" "$nginx_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is taken; set BASE_PORT to another base" >&2
    exit 1
  fi
done

work="$(mktemp -d /tmp/aviary-router-bench.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() { # port
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# ---- backends: one nginx serving a small fixed response on two ports ---------------------------------------------
mkdir -p "$work/backend" "$work/nginx-proxy"
cat >"$work/backend/nginx.conf" <<CONF
worker_processes 1;
pid $work/backend/nginx.pid;
error_log $work/backend/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/backend;
  proxy_temp_path $work/backend;
  fastcgi_temp_path $work/backend;
  uwsgi_temp_path $work/backend;
  scgi_temp_path $work/backend;
  server { listen 127.0.0.1:$backend_a; location / { default_type text/plain; return 200 "hello from the primary\n"; } }
  server { listen 127.0.0.1:$backend_b; location / { default_type text/plain; return 200 "hello from the canary\n"; } }
}
CONF
nginx -p "$work/backend" -c "$work/backend/nginx.conf" -g 'daemon off;' &
pids+=($!)

# ---- the built-in router ---------------------------------------------------------------------------------------
echo "building the router host" >&2
dotnet build "$root/bench/RouterHost/RouterHost.csproj" -c Release -nologo -v quiet -o "$work/routerhost" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
# Socket continuations run on the epoll threads (with ProxyOptions.InlineScheduling in the host): no thread hops.
DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$work/routerhost/RouterHost.dll" --port "$router_port" \
  --primary "http://127.0.0.1:$backend_a" --canary "http://127.0.0.1:$backend_b" --weights 90/10 >"$work/router.log" 2>&1 &
router_pid=$!
pids+=($router_pid)

# ---- HAProxy, 90/10, config generated here ---------------------------------------------------------------------
cat >"$work/haproxy.cfg" <<CONF
global
  nbthread 2
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend bench
  bind 127.0.0.1:$haproxy_port
  default_backend canary_split
backend canary_split
  balance roundrobin
  server primary 127.0.0.1:$backend_a weight 90
  server canary 127.0.0.1:$backend_b weight 10
CONF
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)

# ---- nginx as a proxy, 9:1 --------------------------------------------------------------------------------------
cat >"$work/nginx-proxy/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx-proxy/nginx.pid;
error_log $work/nginx-proxy/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx-proxy;
  proxy_temp_path $work/nginx-proxy;
  fastcgi_temp_path $work/nginx-proxy;
  uwsgi_temp_path $work/nginx-proxy;
  scgi_temp_path $work/nginx-proxy;
  upstream canary_split {
    server 127.0.0.1:$backend_a weight=9;
    server 127.0.0.1:$backend_b weight=1;
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://canary_split;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
CONF
nginx -p "$work/nginx-proxy" -c "$work/nginx-proxy/nginx.conf" -g 'daemon off;' &
pids+=($!)

for port in "$backend_a" "$backend_b" "$router_port" "$haproxy_port" "$nginx_port"; do wait_port "$port"; done
grep -q READY "$work/router.log" || { sleep 1; grep -q READY "$work/router.log" || { cat "$work/router.log" >&2; exit 1; }; }

cat >"$work/delay.lua" <<LUA
function delay()
  return $moderate_delay_ms
end
LUA

# ---- measure ----------------------------------------------------------------------------------------------------
to_ms() { # "412.00us" | "1.20ms" | "1.01s" -> milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else { printf "nan" } }'
}

declare -A rps p50 p99 errors runs
median() { # format values...
  local format=$1
  shift
  printf '%s\n' "$@" | sort -g | awk -v f="$format" '{ v[NR] = $1 } END { printf f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
measure() { # key url mode(saturation|moderate) round
  local key=$1 url=$2 mode=$3 round=$4 out="$work/wrk-$1-$3-$4.txt"
  local args=(-t"$threads" -c"$connections" -d"${duration}s" --latency)
  [[ $mode == moderate ]] && args=(-t1 -c"$moderate_connections" -d"${duration}s" --latency -s "$work/delay.lua")
  [[ $round == 1 && $mode == saturation ]] && { wrk -t"$threads" -c"$connections" -d"${warmup}s" "$url" >/dev/null 2>&1 || true; }
  wrk "${args[@]}" "$url" >"$out" 2>&1
  local r l50 l99 e
  r=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  l50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  l99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  e=$(awk '/Non-2xx|Socket errors/ { printf "%s ", $0 }' "$out")
  runs[$key.$mode]+="$r/$l50/$l99 "
  errors[$key.$mode]+="$e"
  echo "  round $round $key ($mode): $r req/s, p50 $l50 ms, p99 $l99 ms $e" >&2
}
summarize() { # key mode: medians over the rounds
  local key=$1 mode=$2 r=() a=() b=() run
  for run in ${runs[$key.$mode]}; do
    IFS=/ read -r x y z <<<"$run"
    r+=("$x") a+=("$y") b+=("$z")
  done
  rps[$key.$mode]=$(median %.0f "${r[@]}")
  p50[$key.$mode]=$(median %.3f "${a[@]}")
  p99[$key.$mode]=$(median %.3f "${b[@]}")
}

targets=(direct router haproxy nginx)
declare -A url=(
  [direct]="http://127.0.0.1:$backend_a/"
  [router]="http://127.0.0.1:$router_port/"
  [haproxy]="http://127.0.0.1:$haproxy_port/"
  [nginx]="http://127.0.0.1:$nginx_port/"
)
declare -A label=(
  [direct]="backend directly (nginx)"
  [router]="Aviary built-in router, 90/10"
  [haproxy]="HAProxy, 90/10"
  [nginx]="nginx proxy, 9:1"
)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "measuring ($rounds rounds of $duration s per target and load, after a $warmup s warm-up); load average before: $load_before" >&2
# Rounds interleave the targets, so that a burst of outside load hits all of them alike; the tables show medians.
for mode in saturation moderate; do
  for round in $(seq 1 "$rounds"); do
    for t in "${targets[@]}"; do measure "$t" "${url[$t]}" "$mode" "$round"; done
  done
  for t in "${targets[@]}"; do summarize "$t" "$mode"; done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The router's own count of the split, as a cross-check.
kill -TERM "$router_pid"
wait "$router_pid" 2>/dev/null || true
split=$(grep '^aviary_router_requests_total' "$work/router.log" | sed 's/^/    /' || true)

sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

table() { # mode
  local mode=$1
  echo "| target | requests/s | p50 ms | p99 ms | added p50 ms | added p99 ms |"
  echo "|---|---:|---:|---:|---:|---:|"
  for t in "${targets[@]}"; do
    local added50="—" added99="—"
    if [[ $t != direct ]]; then
      added50=$(sub "${p50[$t.$mode]}" "${p50[direct.$mode]}")
      added99=$(sub "${p99[$t.$mode]}" "${p99[direct.$mode]}")
    fi
    echo "| ${label[$t]} | ${rps[$t.$mode]} | ${p50[$t.$mode]} | ${p99[$t.$mode]} | $added50 | $added99 |"
  done
  echo
  echo "router/direct throughput: $(ratio "${rps[router.$mode]}" "${rps[direct.$mode]}"),"\
       "router/HAProxy throughput: $(ratio "${rps[router.$mode]}" "${rps[haproxy.$mode]}"),"\
       "router/nginx throughput: $(ratio "${rps[router.$mode]}" "${rps[nginx.$mode]}")"
  local errs=""
  for t in "${targets[@]}"; do [[ -n ${errors[$t.$mode]} ]] && errs+="${label[$t]}: ${errors[$t.$mode]}; "; done
  [[ -n $errs ]] && { echo; echo "errors reported by wrk: $errs"; }
  return 0
}

wrk_version=$( (wrk -v 2>&1 || true) | head -1 | awk '{ print $1, $2 }')
haproxy_version=$( (haproxy -v 2>&1 || true) | head -1 | awk '{ print $3 }')
nginx_version=$( (nginx -v 2>&1 || true) | sed 's/.*nginx\///')
dotnet_version=$(dotnet --version)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
report=$(cat <<REPORT
### Router benchmark — $(date -u +%Y-%m-%d)

Machine: $(nproc) CPUs ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) memory; wrk, the proxies and
the backends share these CPUs (load average before the run: $load_before, after: $load_after). Software: .NET SDK $dotnet_version, $wrk_version, HAProxy $haproxy_version, nginx $nginx_version.
Backends: one nginx (1 worker) answering a 23-byte body on two loopback ports. HAProxy runs 2 threads, the nginx
proxy 2 workers. The router runs in \`bench/RouterHost\` with \`ProxyOptions.InlineScheduling\`, \`DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1\`
and workstation GC. Each measurement follows a ${warmup} s warm-up at full load.

Each figure is the median of $rounds rounds; the rounds interleave the four targets.

**Saturation** — \`wrk -t$threads -c$connections -d${duration}s --latency URL\`

$(table saturation)

**Moderate load** — \`wrk -t1 -c$moderate_connections -d${duration}s --latency -s delay.lua URL\` (each connection waits ${moderate_delay_ms} ms between requests)

$(table moderate)

The router's own count of the split (all runs and the warm-up together; the few 4xx are 499s counted for requests
wrk abandons when a run ends):

\`\`\`
$split
\`\`\`

Reproduce: \`bench/router/run.sh\` (installs wrk, haproxy and nginx when missing; \`DURATION\`, \`ROUNDS\`,
\`CONNECTIONS\`, \`THREADS\`, \`MODERATE_CONNECTIONS\`, \`MODERATE_DELAY_MS\`, \`BASE_PORT\` override the defaults;
the HAProxy and nginx configurations are generated by the script).
REPORT
)

echo
echo "$report"

if [[ -z ${NO_README:-} ]]; then
  readme="$root/bench/README.md"
  start='<!-- router-bench:start -->' end='<!-- router-bench:end -->'
  [[ -f $readme ]] || printf '# Benchmarks\n\nLatest figures of the benchmarks under `bench/`; each script rewrites its own section.\n\n' >"$readme"
  if ! grep -qF "$start" "$readme"; then printf '%s\n%s\n' "$start" "$end" >>"$readme"; fi
  echo "$report" >"$work/report.md"
  awk -v start="$start" -v end="$end" -v body="$work/report.md" '
    $0 == start { print; while ((getline line < body) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }' "$readme" >"$work/readme.new"
  mv "$work/readme.new" "$readme"
  echo "wrote $readme" >&2
fi
