// GET /metrics: Prometheus text exposition of the speaker's state.
import { STATE_NAMES } from "../bfd/packet.ts";
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
  const bfd = s.bfd?.all() ?? [];
  const per = (f: (x: (typeof bfd)[number]) => number) => bfd.map((b): [Record<string, string>, number] => [{ neighbor: b.peer }, f(b)]);
  e.metric("sart_bfd_session_state", "gauge", "1 for the BFD session's current state", bfd.flatMap((b) =>
    STATE_NAMES.map((st): [Record<string, string>, number] => [{ neighbor: b.peer, state: st }, b.stateName === st ? 1 : 0])));
  e.metric("sart_bfd_session_up", "gauge", "1 when the BFD session is Up", per((b) => (b.stateName === "Up" ? 1 : 0)));
  e.metric("sart_bfd_up_transitions_total", "counter", "Times the BFD session came Up", per((b) => b.upTransitions));
  e.metric("sart_bfd_down_transitions_total", "counter", "Times the BFD session left Up", per((b) => b.downTransitions));
  e.metric("sart_bfd_packets_received_total", "counter", "BFD Control packets received", per((b) => b.packetsIn));
  e.metric("sart_bfd_packets_sent_total", "counter", "BFD Control packets sent", per((b) => b.packetsOut));
  e.metric("sart_bfd_detection_time_seconds", "gauge", "Silence from the peer after which the session goes Down", per((b) => b.detectionTime / 1e6));
  e.metric("sart_bfd_transmit_interval_seconds", "gauge", "Interval between our BFD packets", per((b) => b.txInterval / 1e6));
  e.metric("sart_bfd_max_transmit_gap_seconds", "gauge", "Longest gap between two of our BFD packets (event-loop stalls)", per((b) => b.maxTxGapMs / 1000));
  e.metric("sart_bfd_packets_dropped_total", "counter", "BFD packets discarded before reaching a session, by reason",
    [...(s.bfd?.dropped ?? new Map<string, number>())].map(([reason, n]): [Record<string, string>, number] => [{ reason }, n]));
  const fib = s.fib?.counters ?? { batches: 0, operations: 0, failures: 0 };
  e.metric("sart_fib_batches_total", "counter", "ip -batch processes run", [[{}, fib.batches]]);
  e.metric("sart_fib_operations_total", "counter", "Kernel route changes written", [[{}, fib.operations]]);
  e.metric("sart_fib_failures_total", "counter", "Kernel route changes that failed", [[{}, fib.failures]]);
  e.metric("sart_fib_routes", "gauge", "Routes installed in the kernel", [[{}, s.fib ? s.fib.routes().length : 0]]);
  return e.text();
}
