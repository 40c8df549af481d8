// The long-lived ip -batch session on its own, in a namespace of its own: failures are
// reported per job and line while later lines still run, jobs in flight resolve in order,
// a deleted and re-made veth is reachable after renew() (iproute2's name cache), and a
// session whose ip died fails its jobs and starts afresh.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { IpSession } from "../../host/cni/ip-session.ts";
import { waitFor } from "../helpers/net.ts";
import { Netns } from "../helpers/netns.ts";
import { run } from "../helpers/proc.ts";

let ns: Netns;
let session: IpSession;
beforeAll(async () => {
  ns = await Netns.create("cnis");
  session = new IpSession(ns.name);
});
afterAll(async () => {
  session?.close();
  await ns?.delete();
});

test("a failing line is reported with ip's message; the lines after it still run", async () => {
  const failures = await session.run(["link add sa0 type veth peer name sb0", "link set nosuchdev up", "link set sa0 up"]);
  expect(failures).toEqual([{ line: "link set nosuchdev up", message: expect.stringContaining('"nosuchdev"') }]);
  expect(await ns.ip("link", "show", "sa0")).toContain("UP");
});

test("jobs given at once resolve in order, each with its own failures", async () => {
  const [a, b, c] = await Promise.all([
    session.run(["link add sa1 type veth peer name sb1"]),
    session.run(["link add sa1 type veth peer name sb1"]), // exists now
    session.run(["link set sa1 alias job-c"]),
  ]);
  expect(a).toEqual([]);
  expect(b).toEqual([{ line: "link add sa1 type veth peer name sb1", message: expect.stringContaining("File exists") }]);
  expect(c).toEqual([]);
  expect(await ns.ip("link", "show", "sa1")).toContain("alias job-c");
});

test("after a delete, renew() lets the same name be made and used again", async () => {
  expect(await session.run(["link add sa2 type veth peer name sb2", "link set sa2 up"])).toEqual([]);
  expect(await session.run(["link del sa2"])).toEqual([]);
  session.renew();
  expect(await session.run(["link add sa2 type veth peer name sb2", "link set sa2 alias again up"])).toEqual([]);
  expect(await ns.ip("link", "show", "sa2")).toContain("alias again");
});

test("a veth deleted and made again behind the session's back is reached after renew()", async () => {
  // What a pod's netns going away and a re-ADD do: the session saw sa3, other processes
  // delete it and make a new sa3; iproute2 in the session still holds the old index.
  const stale = new IpSession(ns.name);
  try {
    // An address or route names the device: iproute2 looks it up once and caches its index.
    expect(await stale.run(["link add sa3 type veth peer name sb3", "link set sa3 up", "addr add 192.0.2.3/32 dev sa3"])).toEqual([]);
    await ns.ip("link", "del", "sa3");
    await ns.ip("link", "add", "sa3", "type", "veth", "peer", "name", "sb3");
    const old = await stale.run(["link set sa3 alias old-index"]);
    expect(old).toEqual([{ line: "link set sa3 alias old-index", message: expect.stringContaining("No such device") }]);
    stale.renew();
    expect(await stale.run(["link set sa3 alias new-index"])).toEqual([]);
    expect(await ns.ip("link", "show", "sa3")).toContain("alias new-index");
  } finally {
    stale.close();
  }
});

test("a closed session refuses jobs; one whose ip was killed starts a new one", async () => {
  const doomed = new IpSession(ns.name);
  expect(await doomed.run(["link set lo up"])).toEqual([]);
  const pid = (await run("pgrep", ["-P", String(process.pid), "-f", `ip -n ${ns.name} -force -batch`])).trim().split("\n")[0]!;
  process.kill(Number(pid), "SIGKILL");
  await waitFor("the killed ip to go", async () => !(await run("ps", ["-o", "stat=", "-p", pid]).catch(() => "")).trim().startsWith("S"), 5000, 20);
  // The first job may still have gone to the dead process (and failed); the next is served.
  const first = await doomed.run(["link set lo up"]).then(() => "served", (e: Error) => e.message);
  expect(first).toMatch(/served|ip -batch session ended/);
  expect(await doomed.run(["link set lo up"])).toEqual([]);
  doomed.close();
  await expect(doomed.run(["link set lo up"])).rejects.toThrow(/closed/);
});
