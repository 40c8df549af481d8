// `make demo` as a test: scripts/demo.sh starts BIRD, gobgpd and a sart speaker on
// loopback, exchanges and withdraws routes, and must end with "demo: OK", exit 0,
// and leave no process or temp dir behind.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { ROOT } from "../helpers/sart.ts";

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

/** Command lines of running processes that mention `text`. */
function processesMentioning(text: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(text)) out.push(`${pid}: ${cmd}`);
    } catch {}
  }
  return out;
}

test("the demo exchanges and withdraws routes between sart, BIRD and gobgpd, then cleans up", () => {
  const r = spawnSync("bash", [`${ROOT}/scripts/demo.sh`], { cwd: ROOT, encoding: "utf8", timeout: 150_000 });
  const out = plain(r.stdout + r.stderr);
  if (r.status !== 0) console.error(out);
  expect(r.status).toBe(0);
  expect(out).toContain("demo: OK");

  // Both sessions up, as the CLI prints them.
  const neighbors = out.slice(out.indexOf("$ sart bgp neighbor list"), out.indexOf("== routes exchanged"));
  expect(neighbors.match(/Established/g)?.length).toBe(2);

  // sart's RIB holds BIRD's and gobgpd's routes; BIRD and gobgpd hold sart's.
  const exchanged = out.slice(out.indexOf("== routes exchanged"), out.indexOf("== sart originates"));
  expect(exchanged).toMatch(/192\.0\.2\.128\/25 .* 65003 .*65003:1/);
  expect(exchanged).toMatch(/203\.0\.113\.0\/25 .* 65002 .*65002:1/);
  expect(exchanged).toMatch(/198\.51\.100\.0\/24\s+192\.0\.2\.1\s+65001/); // gobgp global rib
  expect(exchanged).toContain("BGP.as_path: 65001");
  expect(exchanged).toContain("BGP.community: (65001,100)");

  // The route added at run time reached both, and its withdrawal removed it from both.
  const added = out.slice(out.indexOf("== sart originates"), out.indexOf("== withdrawals propagate"));
  expect(added.match(/198\.51\.100\.128\/25/g)!.length).toBeGreaterThanOrEqual(3);
  const withdrawn = out.slice(out.indexOf("== withdrawals propagate"), out.indexOf("== stopping"));
  const afterSartWithdraw = withdrawn.slice(withdrawn.indexOf("$ birdc show route protocol sart"), withdrawn.indexOf("$ birdc disable"));
  expect(afterSartWithdraw).toContain("198.51.100.0/24");
  expect(afterSartWithdraw).not.toContain("198.51.100.128/25");
  const finalRib = withdrawn.slice(withdrawn.lastIndexOf("$ sart bgp rib get"));
  expect(finalRib).toContain("203.0.113.0/25");
  expect(finalRib).not.toContain("203.0.113.128/25");
  expect(finalRib).not.toContain("192.0.2.128/25");

  // Nothing left behind.
  const dir = /\$ cat (\/tmp\/sart-demo\.[A-Za-z0-9]+)\/sart\.yaml/.exec(out)?.[1];
  expect(dir).toBeDefined();
  expect(existsSync(dir!)).toBe(false);
  expect(processesMentioning(dir!)).toEqual([]);
}, 180_000);
