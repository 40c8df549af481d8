// GET /metrics: Prometheus text exposition of the speaker's state.
import { STATES } from "./neighbor.ts";
import type { Speaker } from "./speaker.ts";
import { PrometheusText } from "../kube/health-server.ts";

export function renderMetrics(s: Speaker): string {
  const e = new PrometheusText();
  const nbs = [...s.neighbors.values()];
  const counters = new Map(nbs.map((nb) => [nb, s.rib.peerCounters(nb.idx)]));
  e.metric("sart_bgp_session_state", "gauge", "1 for the neighbor's current FSM state", nbs.flatMap((nb) =>
    STATES.map((st): [Record<string, string>, number] => [{ neighbor: nb.config.address, state: st }, nb.state === st ? 1 : 0])));
  e.metric("sart_bgp_session_established", "gauge", "1 when the session is Established", nbs.map((nb) => [{ neighbor: nb.config.address }, nb.state === "Established" ? 1 : 0]));
  e.metric("sart_bgp_session_uptime_seconds", "gauge", "Seconds since the session became Established", nbs.map((nb) => [{ neighbor: nb.config.address }, nb.uptimeSeconds]));
  e.metric("sart_bgp_established_transitions_total", "counter", "Times the session reached Established", nbs.map((nb) => [{ neighbor: nb.config.address }, nb.establishedTransitions]));
  const byType = (dir: "in" | "out") => nbs.flatMap((nb) => {
    const own = dir === "in" ? nb.messagesIn : nb.messagesOut;
    const c = counters.get(nb)!;
    const all = { ...own, update: dir === "in" ? c.updatesIn : c.updatesOut };
    return Object.entries(all).map(([type, v]): [Record<string, string>, number] => [{ neighbor: nb.config.address, type }, v]);
  });
  e.metric("sart_bgp_messages_received_total", "counter", "BGP messages received, by type", byType("in"));
  e.metric("sart_bgp_messages_sent_total", "counter", "BGP messages sent, by type", byType("out"));
  e.metric("sart_bgp_prefixes_received", "gauge", "Paths in the neighbor's Adj-RIB-In", nbs.map((nb) => [{ neighbor: nb.config.address }, counters.get(nb)!.received]));
  e.metric("sart_bgp_prefixes_accepted", "gauge", "Paths from the neighbor eligible for the decision", nbs.map((nb) => [{ neighbor: nb.config.address }, counters.get(nb)!.accepted]));
  e.metric("sart_bgp_prefixes_advertised", "gauge", "Prefixes in the neighbor's Adj-RIB-Out", nbs.map((nb) => [{ neighbor: nb.config.address }, counters.get(nb)!.advertised]));
  e.metric("sart_bgp_withdrawals_received_total", "counter", "Withdrawn prefixes received", nbs.map((nb) => [{ neighbor: nb.config.address }, counters.get(nb)!.withdrawnIn]));
  const st = s.rib.stats();
  e.metric("sart_bgp_rib_prefixes", "gauge", "Prefixes in the Loc-RIB", [[{ family: "ipv4-unicast" }, st.ipv4Prefixes], [{ family: "ipv6-unicast" }, st.ipv6Prefixes]]);
  e.metric("sart_bgp_rib_paths", "gauge", "Paths held in the RIB", [[{}, st.paths]]);
  e.metric("sart_bgp_rib_attribute_sets", "gauge", "Distinct interned attribute sets", [[{}, st.attributeSets]]);
  e.metric("sart_bgp_rib_bytes", "gauge", "Bytes held by the RIB's structures in the core", [[{}, st.bytes]]);
  e.metric("sart_core_memory_bytes", "gauge", "Linear memory of the WebAssembly core (grows, never shrinks)", [[{}, s.rib.memoryBytes()]]);
  e.metric("sart_bgp_decision_runs_total", "counter", "Best-path decision runs", [[{}, st.decisionRuns]]);
  e.metric("sart_bgp_originated_routes", "gauge", "Locally originated routes", [[{}, s.originated.size]]);
  const fib = s.fib?.counters ?? { batches: 0, operations: 0, failures: 0 };
  e.metric("sart_fib_batches_total", "counter", "ip -batch processes run", [[{}, fib.batches]]);
  e.metric("sart_fib_operations_total", "counter", "Kernel route changes written", [[{}, fib.operations]]);
  e.metric("sart_fib_failures_total", "counter", "Kernel route changes that failed", [[{}, fib.failures]]);
  e.metric("sart_fib_routes", "gauge", "Routes installed in the kernel", [[{}, s.fib ? s.fib.routes().length : 0]]);
  return e.text();
}
