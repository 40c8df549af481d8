// The speaker's YAML (docs/speaker.md): defaults, and errors that name the file and the field.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../host/bgp/config.ts";
import { SART, cleanupTmp, speakerConfig, startSpeaker, tmpDir } from "./harness.ts";

afterAll(cleanupTmp);

function write(name: string, text: string): string {
  const file = join(tmpDir(), name);
  writeFileSync(file, text);
  return file;
}

const BASE = `asn: 65000
routerId: 192.0.2.1
`;

describe("speaker config", () => {
  test("the documented example parses, with defaults filled in", () => {
    const file = write("design.yaml", `asn: 65000
routerId: 192.0.2.1
listen: { address: 0.0.0.0, port: 179 }
api: { listen: 127.0.0.1:5000 }
multipath: false
fib: { enabled: false, table: 254 }
neighbors:
  - address: 192.0.2.2
    asn: 65001
    port: 179
    localAddress: 192.0.2.1
    passive: false
    holdTime: 90
    families: [ipv4-unicast, ipv6-unicast]
    export: local
  - { address: "2001:db8::2", asn: 4200000001 }
routes:
  - { prefix: 198.51.100.0/24, nextHop: self, communities: ["65000:1"] }
  - { prefix: "2001:db8:1::/48", nextHop: "2001:db8::1" }
`);
    const c = loadConfig(file);
    expect(c.neighbors[0]).toEqual({
      address: "192.0.2.2", asn: 65001, port: 179, localAddress: "192.0.2.1", passive: false, holdTime: 90,
      families: ["ipv4-unicast", "ipv6-unicast"], export: "local", maxPrefix: 0, extendedOptionalParameters: false,
    });
    expect(c.neighbors[1]).toMatchObject({ asn: 4200000001, port: 179, holdTime: 90, families: ["ipv6-unicast"], export: "local", passive: false });
    expect(c.routes).toEqual([
      { prefix: "198.51.100.0/24", nextHop: "self", communities: ["65000:1"] },
      { prefix: "2001:db8:1::/48", nextHop: "2001:db8::1", communities: [] },
    ]);
    const min = loadConfig(write("min.yaml", BASE));
    expect(min).toMatchObject({ listen: { address: "0.0.0.0", port: 179 }, api: { listen: "127.0.0.1:5000" }, multipath: false, fib: { enabled: false, table: 254 }, neighbors: [], routes: [] });
  });

  const cases: [string, string, string][] = [
    ["asn missing", "routerId: 192.0.2.1\n", "asn: must be 1..4294967295, not missing"],
    ["neighbour asn 0", `${BASE}neighbors:\n  - { address: 192.0.2.2, asn: 65001 }\n  - { address: 192.0.2.3, asn: 0 }\n`, "neighbors[1].asn: must be 1..4294967295, not 0"],
    ["routerId not IPv4", "asn: 65000\nrouterId: 2001:db8::1\n", "routerId: must be an IPv4 address"],
    ["hold time 2", `${BASE}neighbors:\n  - { address: 192.0.2.2, asn: 65001, holdTime: 2 }\n`, "neighbors[0].holdTime: must be 0 or 3..65535"],
    ["unknown family", `${BASE}neighbors:\n  - { address: 192.0.2.2, asn: 65001, families: [ipv4-unicast, l2vpn-evpn] }\n`, "neighbors[0].families[1]: must be ipv4-unicast or ipv6-unicast"],
    ["bad export", `${BASE}neighbors:\n  - { address: 192.0.2.2, asn: 65001, export: everything }\n`, "neighbors[0].export: must be local, all or none"],
    ["duplicate neighbour", `${BASE}neighbors:\n  - { address: 192.0.2.2, asn: 65001 }\n  - { address: 192.0.2.2, asn: 65002 }\n`, "neighbors[1].address: 192.0.2.2 is already neighbors[0]"],
    ["typo in a field", `${BASE}neighbors:\n  - { address: 192.0.2.2, asn: 65001, holdtime: 30 }\n`, "neighbors[0].holdtime: unknown field"],
    ["host bits in a prefix", `${BASE}routes:\n  - { prefix: 198.51.100.1/24 }\n`, "routes[0].prefix: must be a prefix"],
    ["next hop of the other family", `${BASE}routes:\n  - { prefix: 198.51.100.0/24, nextHop: "2001:db8::1" }\n`, "routes[0].nextHop: must be \"self\" or an address of the prefix's family"],
    ["bad community", `${BASE}routes:\n  - { prefix: 198.51.100.0/24, communities: ["65000:70000"] }\n`, "routes[0].communities[0]: \"65000:70000\" is not a community: ASN:VALUE with 16-bit parts"],
    ["listen port", `${BASE}listen: { port: 70000 }\n`, "listen.port: must be 0..65535"],
    ["api listen", `${BASE}api: { listen: "localhost" }\n`, "api.listen: must be host:port"],
    ["fib table", `${BASE}fib: { enabled: true, table: 0 }\n`, "fib.table: must be 1..4294967294"],
    ["not a mapping", "- 1\n- 2\n", "(document): must be a mapping"],
    ["YAML syntax", "asn: [65000\n", "(yaml): "],
  ];
  for (const [name, text, message] of cases) {
    test(`error names the file and the field: ${name}`, () => {
      const file = write("speaker.yaml", text);
      expect(() => loadConfig(file)).toThrow(`${file}: ${message}`);
    });
  }

  test("listen port 0: no BGP listener; SIGINT stops the speaker with exit code 0", async () => {
    const cfg = await speakerConfig(65000, "192.0.2.1");
    cfg.listen.port = 0;
    const s = await startSpeaker("noListen", cfg);
    expect((await s.get("/v1/global")).listen.port).toBe(0);
    expect(await s.stop("SIGINT")).toBe(0);
  });

  test("sart speaker exits 2 with the file and the field on stderr; a missing file is named too", () => {
    const file = write("speaker.yaml", `${BASE}neighbors:\n  - { address: 192.0.2.2, asn: 65001 }\n  - { address: 192.0.2.3, asn: 4294967296 }\n`);
    const r = spawnSync(SART, ["speaker", "--config", file], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`sart speaker: ${file}: neighbors[1].asn: must be 1..4294967295, not 4294967296\n`);
    const missing = spawnSync(SART, ["speaker", "--config", join(tmpDir(), "nope.yaml")], { encoding: "utf8", timeout: 30_000 });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`${join(tmpDir(), "nope.yaml")}: (file): cannot read`);
  });
});
