// Peer options in the speaker's config and API: defaults, errors naming the
// field, fields a runtime cannot honour refused (never ignored), and the
// connect retry timer between real connection attempts.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { checkConfig, neighborFromJson } from "../../host/bgp/config.ts";
import { freePort, loopbackBlock, waitFor } from "../helpers/net.ts";
import { Sart } from "../helpers/sart.ts";
import { SART, cleanupTmp, tmpDir } from "./harness.ts";

afterAll(cleanupTmp);

const neighbor = (extra: Record<string, unknown>) => ({ asn: 65000, routerId: "192.0.2.1", neighbors: [{ address: "192.0.2.2", asn: 65001, ...extra }] });

describe("peer options in the config", () => {
  test("all of them, with BFD defaults filled in as MetalLB's BFDProfile", () => {
    const c = checkConfig(neighbor({ keepaliveTime: 10, connectRetryTime: 2, ebgpMultihop: 3, password: "k", bfd: {}, localAddress: "192.0.2.1" }), "x.yaml");
    expect(c.neighbors[0]).toMatchObject({
      keepaliveTime: 10, connectRetryTime: 2, ebgpMultihop: 3, password: "k", localAddress: "192.0.2.1",
      bfd: { receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3 },
    });
    expect(neighborFromJson({ address: "192.0.2.2", asn: 1, bfd: { transmitInterval: 100 } }).bfd).toEqual({ receiveInterval: 300, transmitInterval: 100, detectMultiplier: 3 });
    expect(checkConfig(neighbor({}), "x.yaml").neighbors[0]).toMatchObject({ keepaliveTime: undefined, ebgpMultihop: undefined, password: undefined, bfd: undefined });
  });

  const errors: [string, Record<string, unknown>, string][] = [
    ["keepaliveTime over holdTime", { holdTime: 9, keepaliveTime: 10 }, "neighbors[0].keepaliveTime: must not exceed holdTime (9)"],
    ["keepaliveTime with hold time 0", { holdTime: 0, keepaliveTime: 1 }, "neighbors[0].keepaliveTime: holdTime 0 means no KEEPALIVEs at all"],
    ["keepaliveTime 0", { keepaliveTime: 0 }, "neighbors[0].keepaliveTime: must be 1..65535, not 0"],
    ["connectRetryTime 0", { connectRetryTime: 0 }, "neighbors[0].connectRetryTime: must be 1..65535, not 0"],
    ["ebgpMultihop 256", { ebgpMultihop: 256 }, "neighbors[0].ebgpMultihop: must be 1..255, not 256"],
    ["empty password", { password: "" }, "neighbors[0].password: must be a non-empty string"],
    ["password over 80 bytes", { password: "é".repeat(41) }, "neighbors[0].password: must be at most 80 bytes (TCP MD5 key), not 82"],
    ["BFD interval under 10 ms", { bfd: { receiveInterval: 5 } }, "neighbors[0].bfd.receiveInterval: must be 10..60000, not 5"],
    ["BFD multiplier 1", { bfd: { detectMultiplier: 1 } }, "neighbors[0].bfd.detectMultiplier: must be 2..255, not 1"],
    ["BFD unknown field", { bfd: { echoMode: true } }, "neighbors[0].bfd.echoMode: unknown field"],
    ["BFD not a mapping", { bfd: true }, "neighbors[0].bfd: must be a mapping, not true"],
  ];
  for (const [name, extra, message] of errors) {
    test(`error names the field: ${name}`, () => {
      expect(() => checkConfig(neighbor(extra), "x.yaml")).toThrow(`x.yaml: ${message}`);
    });
  }
});

describe("a runtime without socket options refuses the fields that need them", () => {
  // Node without build/sart-sockopt.node (SART_SOCKOPT pointing nowhere): the speaker exits 2 naming the field and the cause.
  for (const [field, value, what] of [["password", "k", "a TCP MD5 password"], ["ebgpMultihop", 2, "a TTL"], ["bfd", {}, "BFD (TTL 255 on send and receive)"]] as const) {
    test(`${field} under Node without the addon`, () => {
      const file = join(tmpDir(), `${field}.yaml`);
      writeFileSync(file, JSON.stringify({ ...neighbor({ [field]: value }), listen: { port: 0 }, api: { listen: "" } }));
      const r = spawnSync(SART, ["speaker", "--config", file], { encoding: "utf8", timeout: 30_000, env: { ...process.env, SART_RUNTIME: "node", SART_SOCKOPT: join(tmpDir(), "missing.node") } });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`${file}: neighbors[0].${field}: ${what} cannot be set in this runtime: cannot load ${join(tmpDir(), "missing.node")}`);
    });
  }

  test("eBGP without ebgpMultihop still comes up there, with the system's TTL", async () => {
    const ip = loopbackBlock();
    const port = await freePort(ip(2));
    const b = await Sart.start({ asn: 65001, routerId: "192.0.2.2", listen: { address: ip(2), port }, neighbors: [{ address: ip(1), asn: 65000, passive: true }] });
    const saved = process.env.SART_SOCKOPT;
    process.env.SART_SOCKOPT = join(tmpDir(), "missing.node");
    let a: Sart | undefined;
    try {
      a = await Sart.start({ asn: 65000, routerId: "192.0.2.1", listen: { address: ip(1), port: 0 }, neighbors: [{ address: ip(2), port, asn: 65001 }] }, "node");
      await waitFor("Established", async () => (await a!.neighborState(ip(2))) === "Established");
      expect((await a.neighbor(ip(2))).ttl).toBeUndefined();
      expect((await b.neighbor(ip(1))).ttl).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.SART_SOCKOPT;
      else process.env.SART_SOCKOPT = saved;
      await a?.stop();
      await b.stop();
    }
  }, 30000);
});

describe("connectRetryTime", () => {
  test("attempts to a peer that hangs up come connectRetryTime apart (with RFC 4271 jitter)", async () => {
    const ip = loopbackBlock();
    const attempts: number[] = [];
    const server = net.createServer((sock) => {
      attempts.push(Date.now());
      sock.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, ip(2), resolve));
    const port = (server.address() as net.AddressInfo).port;
    const s = await Sart.start({ asn: 65000, routerId: "192.0.2.1", listen: { address: ip(1), port: 0 }, neighbors: [{ address: ip(2), port, asn: 65001, connectRetryTime: 2 }] });
    try {
      await waitFor("three attempts", () => attempts.length >= 3, 20000);
      const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
      for (const g of gaps) {
        expect(g).toBeGreaterThanOrEqual(1400); // 2 s x 0.75 jitter, less timer slack
        expect(g).toBeLessThan(3750); // the 5 s default would be at least 3.75 s
      }
    } finally {
      await s.stop();
      server.close();
    }
  }, 30000);
});
