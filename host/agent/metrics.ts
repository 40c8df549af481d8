// The agent's /metrics: its own state (readiness, sessions by state, advertisements by
// state, originated routes, reconcile errors, status writes) followed by the embedded
// speaker's (per-neighbour prefixes in and out, messages, RIB, FIB operations).
import { STATES } from "../bgp/neighbor.ts";
import { renderMetrics } from "../bgp/metrics.ts";
import { PrometheusText } from "../kube/health-server.ts";
import type { Agent } from "./agent.ts";

export function renderAgentMetrics(agent: Agent): string {
  const s = agent.snapshot();
  const e = new PrometheusText();
  e.metric("sart_agent_ready", "gauge", "1 when /readyz answers 200", [[{ node: s.node }, s.ready ? 1 : 0]]);
  e.metric("sart_agent_store_synced", "gauge", "1 once the informers' first lists arrived", [[{}, s.synced ? 1 : 0]]);
  e.metric("sart_agent_sessions", "gauge", "BGPPeers of this node by session state (Unknown: no session configured)",
    ["Unknown", ...STATES].map((state) => [{ state }, s.peers.filter((p) => (p.state ?? "Unknown") === state).length]));
  e.metric("sart_agent_bgppeer_established", "gauge", "1 when the BGPPeer's session is Established",
    s.peers.map((p) => [{ bgppeer: p.name, neighbor: p.address ?? "" }, p.state === "Established" ? 1 : 0]));
  e.metric("sart_agent_advertisements", "gauge", "BGPAdvertisement entries naming this node's peers, by state",
    Object.entries(s.advertisements).map(([state, n]) => [{ state }, n]));
  e.metric("sart_agent_originated_routes", "gauge", "Routes this node originates, by what asked for them",
    ["BGPAdvertisement", "AddressBlock"].map((kind) => [{ kind }, s.originated[kind] ?? 0]));
  e.metric("sart_agent_reconcile_errors_total", "counter", "Reconcile passes that failed (retried)", [[{}, s.reconcileErrors]]);
  e.metric("sart_agent_informer_restarts_total", "counter", "Informer restarts after errors (an unreachable API server, expired watches)", [[{}, s.informerRestarts]]);
  e.metric("sart_agent_status_writes_total", "counter", "Status patches written", [[{}, s.statusWrites]]);
  e.metric("sart_agent_status_write_failures_total", "counter", "Status patches that failed (retried)", [[{}, s.statusWriteFailures]]);
  e.metric("sart_agent_status_writes_pending", "gauge", "Status patches waiting or in flight", [[{}, s.statusWritesPending]]);
  if (s.youngCollections !== undefined) {
    e.metric("sart_agent_gc_young_collections_total", "counter", "Young collections run after watch events (Bun only)", [[{}, s.youngCollections]]);
  }
  return e.text() + (s.speaker ? renderMetrics(s.speaker) : "");
}
