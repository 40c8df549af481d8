// tshark's BGP dissector as an independent oracle: on every fixture, sart's messages line
// up one to one with tshark's (same order, types, lengths) and agree on prefixes, path ids,
// AS paths, next hops, MED/LOCAL_PREF/ORIGIN, communities, OPEN fields and capabilities,
// NOTIFICATION codes and shutdown communication, ROUTE-REFRESH families, End-of-RIB markers;
// and every capability code tshark names has a name here too.
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { CAPABILITY_NAMES, familyName } from "../../host/core/codec-names.ts";
import { decodeFixture, expected, flatAsns, type Msg, PCAPS } from "./fixture-data.ts";

type Ek = Record<string, unknown>;

/** One object per BGP message, in capture order, from `tshark -T ek`. */
function tsharkMessages(name: string, port: number): Ek[] {
  const out = execFileSync(
    "tshark",
    ["-n", "-r", join(PCAPS, name), "-d", `tcp.port==${port},bgp`, "-Y", "bgp", "-T", "ek"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 60_000, maxBuffer: 64 << 20 },
  );
  const messages: Ek[] = [];
  for (const line of out.split("\n")) {
    if (!line.trim()) continue;
    const doc = JSON.parse(line);
    const bgp = doc.layers?.bgp;
    if (!bgp) continue;
    for (const m of Array.isArray(bgp) ? bgp : [bgp]) messages.push(m);
  }
  return messages;
}

/** tshark repeats a field as an array, or gives a single value: always a list of strings. */
function list(m: Ek, key: string): string[] {
  const v = m[`bgp_bgp_${key}`];
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function one(m: Ek, key: string): number | undefined {
  const v = list(m, key);
  return v.length ? Number(v[0]) : undefined;
}

const TYPES: Record<string, number> = { OPEN: 1, UPDATE: 2, NOTIFICATION: 3, KEEPALIVE: 4, "ROUTE-REFRESH": 5 };
const ORIGINS: Record<string, number> = { IGP: 0, EGP: 1, INCOMPLETE: 2 };

function address(prefix: string): string {
  return prefix.split("/")[0];
}

function compareUpdate(s: Msg, t: Ek, where: string): void {
  const a = (s.attributes ?? {}) as Msg;
  // Prefixes as tshark prints them ("192.0.2.0/24 PathId 1 "), announced and withdrawn together.
  const text = ((): string[] => {
    const v = t.text;
    if (v === undefined) return [];
    return (Array.isArray(v) ? v : [v]).map(String).filter((x) => /^[0-9a-f:.]+\/\d+/.test(x));
  })();
  const tPairs = text.map((x) => {
    const m = /^(\S+)(?: PathId (\d+))?/.exec(x)!;
    return m[2] ? `${m[1]}#${m[2]}` : m[1];
  });
  const withIds = (prefixes: string[], ids: number[] | undefined) => prefixes.map((p, i) => (ids ? `${p}#${ids[i]}` : p));
  const sPairs = [...withIds(s.withdrawn, s.withdrawnPathIds), ...withIds(s.nlri, s.pathIds)];
  expect({ where, prefixes: sPairs.sort() }).toEqual({ where, prefixes: tPairs.sort() });

  const tWithdrawn = [...list(t, "withdrawn_prefix"), ...list(t, "mp_unreach_nlri_ipv4_prefix"), ...list(t, "mp_unreach_nlri_ipv6_prefix")];
  expect({ where, withdrawn: (s.withdrawn as string[]).map(address).sort() }).toEqual({ where, withdrawn: tWithdrawn.sort() });
  const tNlri = [...list(t, "nlri_prefix"), ...list(t, "mp_reach_nlri_ipv4_prefix"), ...list(t, "mp_reach_nlri_ipv6_prefix")];
  expect({ where, nlri: (s.nlri as string[]).map(address).sort() }).toEqual({ where, nlri: tNlri.sort() });

  // AS_PATH: tshark lists AS_PATH numbers under as2 (2-octet session) or as4, and AS4_PATH under as4.
  const as2 = list(t, "update_path_attribute_as_path_segment_as2").map(Number);
  const as4 = list(t, "update_path_attribute_as_path_segment_as4").map(Number);
  if (a.as4Path) {
    expect({ where, as4Path: flatAsns(a.as4Path) }).toEqual({ where, as4Path: as4 });
    expect({ where, asPathLength: flatAsns(a.asPath).length }).toEqual({ where, asPathLength: as2.length });
  } else {
    expect({ where, asPath: flatAsns(a.asPath) }).toEqual({ where, asPath: as2.length ? as2 : as4 });
  }

  const nextHops = [
    ...list(t, "update_path_attribute_next_hop"),
    ...list(t, "update_path_attribute_mp_reach_nlri_next_hop_ipv4"),
    ...list(t, "update_path_attribute_mp_reach_nlri_next_hop_ipv6"),
    ...list(t, "update_path_attribute_mp_reach_nlri_next_hop_ipv6_link_local"),
  ];
  const sNextHops = a.nextHop === undefined ? [] : Array.isArray(a.nextHop) ? a.nextHop : [a.nextHop];
  expect({ where, nextHops: sNextHops.sort() }).toEqual({ where, nextHops: nextHops.sort() });

  expect({ where, origin: a.origin === undefined ? undefined : ORIGINS[a.origin] }).toEqual({ where, origin: one(t, "update_path_attribute_origin") });
  expect({ where, med: a.med }).toEqual({ where, med: one(t, "update_path_attribute_multi_exit_disc") });
  expect({ where, localPref: a.localPref }).toEqual({ where, localPref: one(t, "update_path_attribute_local_pref") });

  // Communities: tshark splits regular ones into as/value and shows well-known ones as 0xffffffNN.
  const cAs = list(t, "update_path_attribute_community_as");
  const cValue = list(t, "update_path_attribute_community_value");
  const wellKnown = list(t, "update_path_attribute_community_wellknown").map((h) => {
    const n = Number(h);
    return `${n >>> 16}:${n & 0xffff}`;
  });
  const tCommunities = [...cAs.map((x, i) => `${x}:${cValue[i]}`), ...wellKnown];
  expect({ where, communities: [...(a.communities ?? [])].sort() }).toEqual({ where, communities: tCommunities.sort() });

  const ga = list(t, "large_communities_ga");
  const l1 = list(t, "large_communities_ldp1");
  const l2 = list(t, "large_communities_ldp2");
  expect({ where, large: a.largeCommunities ?? [] }).toEqual({ where, large: ga.map((g, i) => `${g}:${l1[i]}:${l2[i]}`) });

  // Extended communities: type octet, and for 2-octet-AS-specific ones the AS and value.
  const ext = (a.extendedCommunities ?? []) as string[];
  expect({ where, extTypes: ext.map((h) => `0x${h.slice(0, 2)}`) }).toEqual({ where, extTypes: list(t, "ext_com_type") });
  const tAs2 = list(t, "ext_com_value_as2").map(Number);
  const sAs2 = ext.filter((h) => h.startsWith("00") || h.startsWith("40")).map((h) => parseInt(h.slice(4, 8), 16));
  expect({ where, extAs: sAs2 }).toEqual({ where, extAs: tAs2 });

  expect({ where, originatorId: a.originatorId }).toEqual({ where, originatorId: list(t, "update_path_attribute_originator_id")[0] });
  const clusters = list(t, "path_attribute_cluster_id");
  expect({ where, clusterList: a.clusterList ?? [] }).toEqual({ where, clusterList: clusters });
  expect({ where, aggregatorAs: a.aggregator?.asn }).toEqual({ where, aggregatorAs: one(t, "update_path_attribute_aggregator_as") });
  expect({ where, aggregatorAddress: a.aggregator?.address }).toEqual({ where, aggregatorAddress: list(t, "update_path_attribute_aggregator_origin")[0] });
  const codes = list(t, "update_path_attribute_type_code").map(Number);
  expect({ where, atomic: a.atomicAggregate === true }).toEqual({ where, atomic: codes.includes(6) });

  // End-of-RIB (RFC 4724): no prefixes, and no attributes (IPv4) or only an MP_UNREACH_NLRI (its family).
  const empty = tWithdrawn.length === 0 && tNlri.length === 0;
  const eor = !empty ? undefined
    : codes.length === 0 ? "ipv4-unicast"
    : codes.length === 1 && codes[0] === 15 ? familyName(one(t, "update_path_attribute_mp_unreach_nlri_afi")!, one(t, "update_path_attribute_mp_unreach_nlri_safi")!)
    : undefined;
  expect({ where, endOfRib: s.endOfRib }).toEqual({ where, endOfRib: eor });
}

function compareOpen(s: Msg, t: Ek, where: string): void {
  expect({ where, version: s.version }).toEqual({ where, version: one(t, "open_version") });
  expect({ where, myAs: s.myAs }).toEqual({ where, myAs: one(t, "open_myas") });
  expect({ where, holdTime: s.holdTime }).toEqual({ where, holdTime: one(t, "open_holdtime") });
  expect({ where, routerId: s.routerId }).toEqual({ where, routerId: list(t, "open_identifier")[0] });
  const caps = s.capabilities as Msg[];
  expect({ where, caps: caps.map((c) => c.code) }).toEqual({ where, caps: list(t, "cap_type").map(Number) });
  const as4 = caps.find((c) => c.code === 65);
  expect({ where, as4: as4?.asn }).toEqual({ where, as4: one(t, "cap_4as") });
  const mp = caps.filter((c) => c.code === 1);
  expect({ where, mp: mp.map((c) => `${c.afi}/${c.safi}`) }).toEqual({
    where,
    mp: list(t, "cap_mp_afi").map((afi, i) => `${afi}/${list(t, "cap_mp_safi")[i]}`),
  });
  const ap = caps.filter((c) => c.code === 69).flatMap((c) => c.families as Msg[]);
  const SR: Record<string, number> = { receive: 1, send: 2, both: 3 };
  expect({ where, addPath: ap.map((f) => `${f.afi}/${f.safi}/${SR[f.sendReceive] ?? f.sendReceive}`) }).toEqual({
    where,
    addPath: list(t, "cap_ap_afi").map((afi, i) => `${afi}/${list(t, "cap_ap_safi")[i]}/${list(t, "cap_ap_sendreceive")[i]}`),
  });
  const gr = caps.find((c) => c.code === 64);
  expect({ where, restartTime: gr?.restartTime }).toEqual({ where, restartTime: one(t, "cap_gr_timers_restart_time") });
  const fqdn = caps.find((c) => c.code === 73);
  expect({ where, hostname: fqdn?.hostname }).toEqual({ where, hostname: list(t, "cap_orf_fqdn_hostname")[0] });
}

function compareNotification(s: Msg, t: Ek, where: string): void {
  expect({ where, code: s.code }).toEqual({ where, code: one(t, "notify_major_error") });
  const minor = Object.keys(t).find((k) => k.startsWith("bgp_bgp_notify_minor_"));
  expect({ where, subcode: s.subcode }).toEqual({ where, subcode: minor ? Number(t[minor]) : undefined });
  expect({ where, communication: s.communication }).toEqual({ where, communication: list(t, "notify_communication")[0] });
}

test("every capability code tshark names has a name in sart decode's JSON (IANA's registry and vendor codes)", () => {
  const out = execFileSync("tshark", ["-G", "values"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 60_000, maxBuffer: 256 << 20 });
  const named = out.split("\n").map((l) => l.split("\t")).filter((f) => f[0] === "V" && f[1] === "bgp.cap.type").map((f) => [Number(f[2]), f[3]] as const);
  expect(named.length).toBeGreaterThan(20);
  const missing = named.filter(([code]) => CAPABILITY_NAMES[code] === undefined);
  expect(missing).toEqual([]);
  expect(CAPABILITY_NAMES[71]).toBe("long-lived-graceful-restart");
});

for (const [name, fixture] of Object.entries(expected)) {
  describe(`tshark agrees on ${name}`, () => {
    const sart = decodeFixture(name).messages;
    const shark = tsharkMessages(name, fixture.port);

    test("the same messages in the same order: types and lengths", () => {
      expect(sart.map((m) => `${TYPES[m.type]}/${m.length}`)).toEqual(shark.map((t) => `${one(t, "type")}/${one(t, "length")}`));
    });

    test("UPDATE, OPEN, NOTIFICATION and ROUTE-REFRESH contents", () => {
      expect(sart.length).toBe(shark.length);
      sart.forEach((s, i) => {
        const t = shark[i];
        const where = `${name} message ${i} (${s.type} ${s.flow})`;
        if (s.type === "UPDATE") compareUpdate(s, t, where);
        else if (s.type === "OPEN") compareOpen(s, t, where);
        else if (s.type === "NOTIFICATION") compareNotification(s, t, where);
        else if (s.type === "ROUTE-REFRESH") {
          expect({ where, rr: [s.afi, s.safi, s.subtype] }).toEqual({
            where,
            rr: [one(t, "route_refresh_afi"), one(t, "route_refresh_safi"), one(t, "route_refresh_subtype")],
          });
        }
      });
    });
  });
}
