#!/usr/bin/env bash
# Agent benchmark: the lab in Kubernetes mode (test API server + sart controller, sart agent on
# three nodes, two FRR routers); 10,000 LoadBalancer Services created at once: time until every
# address is at the router from every node, beside the controller alone in the same run (status
# written); steady-state creation -> route latency; the agents' peak RSS and CPU, and the API
# server's and the controller's CPU in both phases. RUNS runs per runtime (agents and
# controller under Bun; under Node; bun+node: the controller under Bun, the agents under Node),
# medians. As root (network namespaces).
# Env: RUNS (default 1), SERVICES (10000), SAMPLES (200), RUNTIMES ("bun node bun+node").
# --quick: 1,000 Services, 30 samples, Bun only.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUN=node_modules/.bin/bun
RUNS=${RUNS:-1}
SERVICES=${SERVICES:-10000}
SAMPLES=${SAMPLES:-200}
RUNTIMES=${RUNTIMES:-bun node bun+node}
if [ "${1:-}" = --quick ]; then SERVICES=1000; SAMPLES=30; RUNTIMES=bun; fi
[ "$(id -u)" = 0 ] || { echo "bench/agent: needs root (network namespaces)" >&2; exit 1; }
for tool in vtysh kubectl; do command -v $tool >/dev/null || { echo "bench/agent: $tool missing (scripts/install-deps.sh)" >&2; exit 1; }; done
[ -x /usr/lib/frr/bgpd ] || { echo "bench/agent: FRR missing (apt-get install frr)" >&2; exit 1; }
[ -f build/node/sart/main.js ] || { echo "bench/agent: run 'make build' first" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
source bench/runs.sh
bench_runs "$out" 1800 bench/agent/bench.ts --services "$SERVICES" --samples "$SAMPLES"
"$BUN" -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const keys = ["controllerMs", "agentControllerMs", "routerMs", "advertisedMs", "routerOverController", "agentPeakRssMiB", "agentBurstCpuS", "apiCpuAS", "controllerCpuAS", "apiCpuBS", "controllerCpuBS", "steadyFirstP50Ms", "steadyFirstP99Ms", "steadyAllP99Ms"];
console.log("| runtime | runs | services | " + keys.join(" | ") + " |");
console.log("|---|---|---|" + keys.map(() => "---").join("|") + "|");
const row = (f) => f.map((x) => String(x).replace(/\t/g, " ")).join("\t");
const summary = [];
for (const rt of [...new Set(lines.map((l) => l.runtime))]) {
  const rs = lines.filter((l) => l.runtime === rt);
  const m = (k) => med(rs.map((r) => r[k]));
  console.log(`| ${rt} | ${rs.length} | ${rs[0].services} | ` + keys.map(m).join(" | ") + " |");
  const c = `${rs[0].services} Services, ${rt}`;
  summary.push(["summary", "agent", c, "s until every address at the router", "lower", (m("routerMs") / 1000).toFixed(2), "controller alone (status written)", (m("controllerMs") / 1000).toFixed(2)]);
  summary.push(["summary", "agent", c, "s until every address at the router", "lower", (m("routerMs") / 1000).toFixed(2), "bar", "15"]);
  summary.push(["summary", "agent", `steady state, ${rt}`, "ms creation -> route at the router (p99)", "lower", m("steadyFirstP99Ms"), "bar", "500"]);
  summary.push(["summary", "agent", c, "MiB agent peak RSS", "lower", m("agentPeakRssMiB"), "bar", "100"]);
}
for (const s of summary) console.log(row(s));
' "$out"
