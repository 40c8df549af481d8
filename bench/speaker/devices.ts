// The devices under test, each configured the same way: AS 65000 on A(2), passive toward
// every peer, eBGP; testers (A(10+i), AS 64600+i) send routes and get nothing back,
// monitors (A(150+j), AS 65100+j) get everything; nothing goes to any kernel table
// (BIRD: no kernel protocol; gobgpd: no zebra; sart: fib off).
import { Bird } from "../../tests/helpers/bird.ts";
import { Gobgpd } from "../../tests/helpers/gobgpd.ts";
import { freePort, waitFor } from "../../tests/helpers/net.ts";
import { Sart, type Runtime } from "../../tests/helpers/sart.ts";

export const DEVICES = ["bird", "gobgpd", "sart-bun", "sart-node"] as const;
export type DeviceName = (typeof DEVICES)[number];

export interface Device {
  pid: number;
  port: number;
  stop(): Promise<void>;
  log(): string;
}

export const DUT_AS = 65000;
export const MAX_TESTERS = 100, MAX_MONITORS = 100;
export const tester = (i: number) => ({ host: 10 + i, asn: 64600 + i, routerId: `192.0.2.${10 + i}` });
export const monitor = (j: number) => ({ host: 150 + j, asn: 65100 + j, routerId: `192.0.2.${150 + j}` });
/** The testers' next hop: a documentation address, resolved by BIRD through its own IGP table. */
export const TESTER_NEXT_HOP = "192.0.2.1";

export async function startDevice(name: DeviceName, a: (h: number) => string, testers: number, monitors: number): Promise<Device> {
  if (testers > MAX_TESTERS || monitors > MAX_MONITORS) throw new Error(`bench: at most ${MAX_TESTERS} testers and ${MAX_MONITORS} monitors`);
  const port = await freePort(a(2));
  const peers = [
    ...Array.from({ length: testers }, (_, i) => ({ ...tester(i), role: "tester" as const, name: `t${i}` })),
    ...Array.from({ length: monitors }, (_, j) => ({ ...monitor(j), role: "monitor" as const, name: `m${j}` })),
  ];
  if (name === "bird") {
    const bird = await Bird.start(`router id 192.0.2.2;
protocol device { }
ipv4 table igp4;
protocol static { ipv4 { table igp4; }; route 192.0.2.0/24 blackhole; }
template bgp dut {
  local ${a(2)} port ${port} as ${DUT_AS};
  passive on;
  strict bind on;
  multihop 2;
}
${peers.map((p) => `protocol bgp ${p.name} from dut {
  neighbor ${a(p.host)} as ${p.asn};
  ipv4 { import all; export ${p.role === "tester" ? "none" : "all"}; igp table igp4; };
}`).join("\n")}
`);
    return { pid: bird.daemon.pid, port, stop: () => bird.stop(), log: () => bird.log() };
  }
  if (name === "gobgpd") {
    // gobgpd has no per-neighbour export for ordinary peers: a global export policy rejects
    // everything toward the testers (a neighbor set), the default accepts the rest.
    const testerAddrs = peers.filter((p) => p.role === "tester").map((p) => JSON.stringify(a(p.host)));
    const g = await Gobgpd.start({
      asn: DUT_AS,
      routerId: "192.0.2.2",
      address: a(2),
      port,
      neighbors: peers.map((p) => ({ address: a(p.host), asn: p.asn, passive: true })),
      exportPolicies: testers ? ["not-to-testers"] : [],
      extra: testers ? `[[defined-sets.neighbor-sets]]
  neighbor-set-name = "testers"
  neighbor-info-list = [${testerAddrs.join(", ")}]
[[policy-definitions]]
  name = "not-to-testers"
  [[policy-definitions.statements]]
    name = "testers"
    [policy-definitions.statements.conditions.match-neighbor-set]
      neighbor-set = "testers"
    [policy-definitions.statements.actions]
      route-disposition = "reject-route"` : undefined,
    });
    // gobgpd answers its API before it has added every neighbour, and refuses a connection
    // from one not added yet: wait until all are there.
    await waitFor(`gobgpd: ${peers.length} neighbours configured`, async () => JSON.parse(await g.cli(["neighbor", "-j"], 10000)).length === peers.length, 60000, 200)
      .catch(async (err) => {
        await g.stop();
        throw err;
      });
    return { pid: g.daemon.pid, port, stop: () => g.stop(), log: () => g.daemon.log() };
  }
  const runtime: Runtime = name === "sart-node" ? "node" : "bun";
  const s = await Sart.start(
    {
      asn: DUT_AS,
      routerId: "192.0.2.2",
      listen: { address: a(2), port },
      neighbors: peers.map((p) => ({ address: a(p.host), asn: p.asn, passive: true, export: p.role === "tester" ? "none" : "all" })),
    },
    runtime,
    60000,
  );
  return { pid: s.daemon.pid, port, stop: () => s.stop(), log: () => s.log() };
}
