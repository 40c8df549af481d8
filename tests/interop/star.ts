// A star of network namespaces for tests against routers that must not run on
// loopback (FRR rejects 127/8 next hops): a hub namespace for the speaker under
// test and one namespace per spoke (an FRR, another sart), each joined to the
// hub by its own veth pair and subnet.
import { Netns, veth } from "../helpers/netns.ts";

export interface Spoke {
  ns: Netns;
  /** The hub's addresses on this spoke's link. */
  hub: { v4: string; v6: string };
  /** The spoke's own addresses on the link. */
  v4: string;
  v6: string;
}

export interface Star {
  hub: Netns;
  spokes: Spoke[];
  delete(): Promise<void>;
}

/**
 * Spoke i (from 1) gets 192.0.2.(8i+2)/29 and 2001:db8:0:i::2/64; the hub has .(8i+1)
 * and ::1 on the same link. IPv6 next hops therefore exist on every session.
 */
export async function star(spokes: number, prefix = "star"): Promise<Star> {
  const made: Netns[] = [];
  try {
    const hub = await Netns.create(`${prefix}-h`);
    made.push(hub);
    const out: Spoke[] = [];
    for (let i = 1; i <= spokes; i++) {
      const ns = await Netns.create(`${prefix}-${i}`);
      made.push(ns);
      const s = { v4: `192.0.2.${8 * i + 2}`, v6: `2001:db8:0:${i}::2` };
      const h = { v4: `192.0.2.${8 * i + 1}`, v6: `2001:db8:0:${i}::1` };
      await veth({ ns: hub, ifname: `sp${i}`, addresses: [`${h.v4}/29`, `${h.v6}/64`] }, { ns, ifname: "hub", addresses: [`${s.v4}/29`, `${s.v6}/64`] });
      out.push({ ns, hub: h, ...s });
    }
    return { hub, spokes: out, delete: () => deleteAll(made) };
  } catch (err) {
    await deleteAll(made);
    throw err;
  }
}

async function deleteAll(list: Netns[]): Promise<void> {
  for (const ns of list.reverse()) await ns.delete();
}
