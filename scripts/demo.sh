#!/usr/bin/env bash
# `make demo`: the lab so far, on loopback. A sart speaker (AS 65001) peers over eBGP
# with a BIRD (AS 65002) and a gobgpd (AS 65003) started here; routes go both ways and
# are printed from every side; then withdrawals are shown propagating.
#
# Everything runs on a random 127.X.Y.0/24 (Linux routes all of 127/8 to lo) with free
# ports, configs and sockets in a temp dir; nothing reaches a kernel routing table
# (sart fib disabled, BIRD without a kernel protocol, gobgpd without zebra). Every
# process started here is stopped on exit, even on failure; every wait is bounded.
# Needs: make build, bird2, gobgpd/gobgp. Prints "demo: OK" and exits 0 on success.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sart="$root/build/bin/sart"
bun="$root/node_modules/.bin/bun"
[ -x "$sart" ] || { echo "demo: build/bin/sart missing: run make build" >&2; exit 1; }
for tool in bird birdc gobgpd gobgp; do
  command -v "$tool" >/dev/null || { echo "demo: $tool is not installed (Debian: bird2, gobgpd, gobgp)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/sart-demo.XXXXXX)
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ $status -ne 0 ]; then
    echo "demo: FAILED (exit $status); last log lines:" >&2
    for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "== $(basename "$f")" >&2; tail -15 "$f" >&2; }; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
# show COMMAND...: prints the command as a user would type it, then its indented output.
show() {
  local shown="$*"
  case "$1" in
    sartc) shown="sart bgp ${*:2}" ;;
    gobgpc) shown="gobgp ${*:2}" ;;
    birdcc) shown="birdc ${*:2}" ;;
  esac
  printf '\033[2m$ %s\033[0m\n' "$shown"
  "$@" 2>&1 | sed 's/^/   /'
}

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "demo: timed out after ${secs}s waiting for $what" >&2; return 1; }
    sleep 0.2
  done
}

free_port() { # free_port ADDRESS: a TCP port free on ADDRESS right now
  "$bun" -e 'const s=require("node:net").createServer().listen(0,process.argv[1],()=>{console.log(s.address().port);s.close()})' "$1"
}

net="127.$((100 + RANDOM % 150)).$((1 + RANDOM % 250))"
SART=$net.1 BIRD=$net.2 GOBGP=$net.3
sart_port=$(free_port "$SART"); bird_port=$(free_port "$BIRD"); gobgp_port=$(free_port "$GOBGP")
api_port=$(free_port 127.0.0.1); gobgp_api=$(free_port 127.0.0.1)
export SART_API=127.0.0.1:$api_port

sartc() { "$sart" bgp "$@"; }
gobgpc() { gobgp -u 127.0.0.1 -p "$gobgp_api" "$@"; }
birdcc() { birdc -s "$tmp/bird.ctl" "$@"; }
bird_has() { birdcc show route "$1" | grep -q "^$1"; }
gobgp_has() { gobgpc global rib -a ipv4 "$1" 2>/dev/null | grep -q "$1"; }
sart_has() { sartc rib get | grep -q "$1"; }
sart_established() { sartc -o json neighbor get "$1" | grep -q '"state": *"Established"'; }

step "starting BIRD (AS 65002) on $BIRD:$bird_port"
cat >"$tmp/bird.conf" <<CONF
log "$tmp/bird-daemon.log" all;
router id 192.0.2.2;
ipv4 table igp4;
protocol device { }
# Next hops resolve through a private table; no kernel protocol: nothing reaches the kernel.
protocol static igp_routes { ipv4 { table igp4; }; route 192.0.2.0/24 blackhole; }
protocol static demo_routes { ipv4; route 203.0.113.0/25 blackhole { bgp_community.add((65002,1)); }; }
protocol static demo_extra { ipv4; route 203.0.113.128/25 blackhole; }
protocol bgp sart {
  local $BIRD port $bird_port as 65002;
  neighbor $SART port $sart_port as 65001;
  multihop 2; strict bind on; connect delay time 1; connect retry time 1;
  ipv4 { import all; export all; igp table igp4; };
}
CONF
bird -p -c "$tmp/bird.conf"
bird -f -c "$tmp/bird.conf" -s "$tmp/bird.ctl" >"$tmp/bird.log" 2>&1 &
pids+=($!)
wait_for 15 "BIRD control socket" birdcc show status
say "BIRD originates 203.0.113.0/25 (community 65002:1) and 203.0.113.128/25"

step "starting gobgpd (AS 65003) on $GOBGP:$gobgp_port"
cat >"$tmp/gobgpd.toml" <<CONF
[global.config]
  as = 65003
  router-id = "192.0.2.3"
  port = $gobgp_port
  local-address-list = ["$GOBGP"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$SART"
    peer-as = 65001
  [neighbors.transport.config]
    local-address = "$GOBGP"
    remote-port = $sart_port
  [neighbors.timers.config]
    connect-retry = 1
CONF
gobgpd -f "$tmp/gobgpd.toml" -t toml --api-hosts "127.0.0.1:$gobgp_api" --pprof-disable -p >"$tmp/gobgpd.log" 2>&1 &
pids+=($!)
wait_for 20 "gobgpd API" gobgpc global
gobgpc global rib add -a ipv4 192.0.2.128/25 community 65003:1 >/dev/null
say "gobgpd originates 192.0.2.128/25 (community 65003:1)"

step "starting the sart speaker (AS 65001) on $SART:$sart_port, API $SART_API"
# gobgpd refuses 127/8 next hops, so sart announces a documentation address as next hop.
cat >"$tmp/sart.yaml" <<CONF
asn: 65001
routerId: 192.0.2.1
listen: { address: $SART, port: $sart_port }
api: { listen: "$SART_API" }
fib: { enabled: false }
neighbors:
  - { address: $BIRD, asn: 65002, port: $bird_port }
  - { address: $GOBGP, asn: 65003, port: $gobgp_port }
routes:
  - { prefix: 198.51.100.0/24, nextHop: 192.0.2.1, communities: ["65001:100"] }
CONF
show cat "$tmp/sart.yaml"
"$sart" speaker --config "$tmp/sart.yaml" >"$tmp/sart.log" 2>&1 &
pids+=($!)
wait_for 20 "sart API" sartc global get
wait_for 30 "sart <-> BIRD Established" sart_established "$BIRD"
wait_for 30 "sart <-> gobgpd Established" sart_established "$GOBGP"
show sartc neighbor list

step "routes exchanged both ways"
wait_for 15 "BIRD's routes in sart" sart_has 203.0.113.128/25
wait_for 15 "gobgpd's route in sart" sart_has 192.0.2.128/25
wait_for 15 "sart's route in BIRD" bird_has 198.51.100.0/24
wait_for 15 "sart's route in gobgpd" gobgp_has 198.51.100.0/24
say "sart's RIB: its own route, BIRD's two, gobgpd's one:"
show sartc rib get
say "gobgpd's RIB: sart's 198.51.100.0/24 (AS path 65001), and no transit from BIRD (sart exports only its own routes):"
show gobgpc global rib -a ipv4
say "BIRD's table: sart's route with its attributes:"
show birdcc show route all 198.51.100.0/24

step "sart originates one more route at run time"
show sartc rib add 198.51.100.128/25 --next-hop 192.0.2.1 --community 65001:200
wait_for 15 "198.51.100.128/25 in BIRD" bird_has 198.51.100.128/25
wait_for 15 "198.51.100.128/25 in gobgpd" gobgp_has 198.51.100.128/25
show birdcc show route 198.51.100.128/25
show gobgpc global rib -a ipv4 198.51.100.128/25

step "withdrawals propagate"
show sartc rib del 198.51.100.128/25
wait_for 15 "withdrawal in BIRD" bash -c "! birdc -s '$tmp/bird.ctl' show route 198.51.100.128/25 | grep -q '^198.51.100.128/25'"
wait_for 15 "withdrawal in gobgpd" bash -c "! gobgp -u 127.0.0.1 -p $gobgp_api global rib -a ipv4 198.51.100.128/25 2>/dev/null | grep -q 198.51.100.128/25"
say "sart withdrew 198.51.100.128/25: gone from BIRD and from gobgpd:"
show birdcc show route protocol sart
show gobgpc global rib -a ipv4
show birdcc disable demo_extra
wait_for 15 "BIRD's withdrawal in sart" bash -c "! '$sart' bgp rib get | grep -q 203.0.113.128/25"
show gobgpc global rib del -a ipv4 192.0.2.128/25
wait_for 15 "gobgpd's withdrawal in sart" bash -c "! '$sart' bgp rib get | grep -q 192.0.2.128/25"
say "BIRD withdrew 203.0.113.128/25 and gobgpd 192.0.2.128/25: gone from sart's RIB:"
show sartc rib get

step "stopping everything"
echo "demo: OK"
