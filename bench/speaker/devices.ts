// The devices under test, each configured the same way: AS 65000 on A(2),
// tester AS 65001 from A(1) and monitor AS 65002 from A(3), both eBGP and
// passive on the device side, import and export everything, nothing to any
// kernel table (BIRD: no kernel protocol; gobgpd: no zebra; sart: fib off).
import { Bird } from "../../tests/helpers/bird.ts";
import { Gobgpd } from "../../tests/helpers/gobgpd.ts";
import { freePort } from "../../tests/helpers/net.ts";
import { Sart, type Runtime } from "../../tests/helpers/sart.ts";

export const DEVICES = ["bird", "gobgpd", "sart-bun", "sart-node"] as const;
export type DeviceName = (typeof DEVICES)[number];

export interface Device {
  pid: number;
  port: number;
  stop(): Promise<void>;
  log(): string;
}

export const DUT_AS = 65000, TESTER_AS = 65001, MONITOR_AS = 65002;
/** The tester's next hop: a documentation address, resolved by BIRD through its own IGP table. */
export const TESTER_NEXT_HOP = "192.0.2.1";

export async function startDevice(name: DeviceName, a: (h: number) => string): Promise<Device> {
  const port = await freePort(a(2));
  if (name === "bird") {
    const peer = (proto: string, host: number, asn: number) => `protocol bgp ${proto} {
  local ${a(2)} port ${port} as ${DUT_AS};
  neighbor ${a(host)} as ${asn};
  passive on;
  strict bind on;
  multihop 2;
  ipv4 { import all; export all; igp table igp4; };
}`;
    const bird = await Bird.start(`router id 192.0.2.2;
protocol device { }
ipv4 table igp4;
protocol static { ipv4 { table igp4; }; route 192.0.2.0/24 blackhole; }
${peer("tester", 1, TESTER_AS)}
${peer("monitor", 3, MONITOR_AS)}
`);
    return { pid: bird.daemon.pid, port, stop: () => bird.stop(), log: () => bird.log() };
  }
  if (name === "gobgpd") {
    const g = await Gobgpd.start({
      asn: DUT_AS,
      routerId: "192.0.2.2",
      address: a(2),
      port,
      neighbors: [
        { address: a(1), asn: TESTER_AS, passive: true },
        { address: a(3), asn: MONITOR_AS, passive: true },
      ],
    });
    return { pid: g.daemon.pid, port, stop: () => g.stop(), log: () => g.daemon.log() };
  }
  const runtime: Runtime = name === "sart-node" ? "node" : "bun";
  const s = await Sart.start(
    {
      asn: DUT_AS,
      routerId: "192.0.2.2",
      listen: { address: a(2), port },
      neighbors: [
        { address: a(1), asn: TESTER_AS, passive: true, export: "none" },
        { address: a(3), asn: MONITOR_AS, passive: true, export: "all" },
      ],
    },
    runtime,
  );
  return { pid: s.daemon.pid, port, stop: () => s.stop(), log: () => s.log() };
}
