// validate()/admit() against our CRDs: bad objects are refused with the field
// named as the API server names it, good ones (and allowed updates) pass.

import { describe, expect, test } from "bun:test";
import { type FieldError, admit, crdFor, invalidStatus, validate } from "../../host/kube/schema/index.ts";
import { API_VERSION } from "../../host/kube/types.ts";

type Obj = { apiVersion: string; kind: string; metadata: Record<string, unknown>; spec?: any; status?: any };

const pool = (spec: Record<string, unknown>, name = "pool-a"): Obj => ({ apiVersion: API_VERSION, kind: "AddressPool", metadata: { name }, spec });
const check = (obj: Obj, old?: Obj) => validate(obj, crdFor(obj.kind), old);
const fields = (errors: FieldError[]) => errors.map((e) => e.field);

/** Exactly one error, on `field`, whose message names the field and contains `text`. */
function expectOneError(errors: FieldError[], field: string, text: string | RegExp): void {
  expect(errors.map((e) => e.message)).toHaveLength(1);
  expect(errors[0]!.field).toBe(field);
  expect(errors[0]!.message.startsWith(`${field}: `)).toBe(true);
  expect(errors[0]!.message).toMatch(text);
}

describe("AddressPool", () => {
  const good = pool({ cidr: "192.0.2.0/24", type: "pod", blockSize: 29, autoAssign: true });

  test("valid pools: IPv4 and IPv6, pod and service, blockSize absent or at its bounds", () => {
    expect(check(good)).toEqual([]);
    expect(check(pool({ cidr: "2001:db8::/112", type: "pod", blockSize: 120 }))).toEqual([]);
    expect(check(pool({ cidr: "2001:db8::/112", type: "pod", blockSize: 128 }))).toEqual([]);
    expect(check(pool({ cidr: "198.51.100.0/24", type: "service", blockSize: 24 }))).toEqual([]);
    expect(check(pool({ cidr: "198.51.100.0/24", type: "service" }))).toEqual([]);
    expect(check(pool({ cidr: "203.0.113.0/24", type: "pod", blockSize: 32 }))).toEqual([]);
    expect(check(pool({ cidr: "0.0.0.0/0", type: "pod", blockSize: 0 }))).toEqual([]);
  });

  test("defaults: allocType bit, autoAssign false; blockSize stays absent (controller's default)", () => {
    const { object, errors } = admit<Obj>(pool({ cidr: "192.0.2.0/24", type: "service" }), crdFor("AddressPool"));
    expect(errors).toEqual([]);
    expect(object.spec).toEqual({ cidr: "192.0.2.0/24", type: "service", allocType: "bit", autoAssign: false });
  });

  test("CIDR syntax errors name spec.cidr", () => {
    for (const cidr of ["192.0.2.0", "192.0.2.0/33", "192.0.2/24", "192.0.02.0/24", "2001:db8::/129", "::ffff:192.0.2.0/120", "hello", ""]) {
      const errors = check(pool({ cidr, type: "pod", blockSize: 30 }));
      expect(errors.length).toBeGreaterThan(0);
      expect(new Set(fields(errors))).toEqual(new Set(["spec.cidr"]));
      expect(errors.map((e) => e.message).join("\n")).toContain(`spec.cidr: Invalid value: ${JSON.stringify(cidr)}`);
    }
  });

  test("host bits set are refused", () => {
    expectOneError(check(pool({ cidr: "192.0.2.1/24", type: "pod", blockSize: 29 })), "spec.cidr", /no host bits set/);
    expectOneError(check(pool({ cidr: "2001:db8::1/64", type: "pod", blockSize: 120 })), "spec.cidr", /no host bits set/);
  });

  test("blockSize outside [prefix length, 32 or 128] is refused on spec.blockSize", () => {
    expectOneError(check(pool({ cidr: "192.0.2.0/24", type: "pod", blockSize: 23 })), "spec.blockSize", /between the CIDR's prefix length and 32/);
    expectOneError(check(pool({ cidr: "192.0.2.0/24", type: "pod", blockSize: 33 })), "spec.blockSize", /Invalid value: 33/);
    expectOneError(check(pool({ cidr: "2001:db8::/64", type: "pod", blockSize: 63 })), "spec.blockSize", /Invalid value: 63/);
    const over = check(pool({ cidr: "2001:db8::/64", type: "pod", blockSize: 129 }));
    expect(fields(over)).toEqual(["spec.blockSize", "spec.blockSize"]);
    expect(over[0]!.message).toBe("spec.blockSize: Invalid value: 129: spec.blockSize in body should be less than or equal to 128");
    const negative = check(pool({ cidr: "192.0.2.0/24", type: "pod", blockSize: -1 }));
    expect(negative.map((e) => e.message)).toEqual([
      "spec.blockSize: Invalid value: -1: spec.blockSize in body should be greater than or equal to 0",
      "spec.blockSize: Invalid value: -1: blockSize must be between the CIDR's prefix length and 32 (IPv4) or 128 (IPv6)",
    ]);
    expectOneError(check(pool({ cidr: "192.0.2.0/24", type: "pod", blockSize: "29" })), "spec.blockSize", /must be of type integer/);
    expectOneError(check(pool({ cidr: "192.0.2.0/24", type: "pod", blockSize: 29.5 })), "spec.blockSize", /must be of type integer/);
  });

  test("a service pool's blockSize must equal its prefix length", () => {
    expectOneError(
      check(pool({ cidr: "198.51.100.0/24", type: "service", blockSize: 28 })),
      "spec.blockSize",
      "spec.blockSize: Invalid value: 28: a service pool is one block, so its blockSize must equal the CIDR's prefix length",
    );
  });

  test("unknown allocType and type are refused with the supported values", () => {
    expectOneError(check(pool({ cidr: "192.0.2.0/24", type: "pod", allocType: "random" })), "spec.allocType", 'Unsupported value: "random": supported values: "bit"');
    expectOneError(check(pool({ cidr: "192.0.2.0/24", type: "lb" })), "spec.type", 'supported values: "service", "pod"');
  });

  test("required fields are named", () => {
    const errors = check(pool({ blockSize: 24 }));
    expect(errors.map((e) => e.message).sort()).toEqual(["spec.cidr: Required value", "spec.type: Required value"]);
    expect(check({ apiVersion: API_VERSION, kind: "AddressPool", metadata: { name: "x" } }).map((e) => e.message)).toEqual(["spec: Required value"]);
  });

  describe("updates", () => {
    test("autoAssign may change", () => {
      expect(check({ ...good, spec: { ...good.spec, autoAssign: false } }, good)).toEqual([]);
      expect(check({ ...good, spec: { cidr: "192.0.2.0/24", type: "pod", blockSize: 29 } }, good)).toEqual([]);
    });

    test("changing cidr, type or blockSize is refused, naming the field", () => {
      expectOneError(check({ ...good, spec: { ...good.spec, cidr: "192.0.3.0/24" } }, good), "spec.cidr", 'spec.cidr: Invalid value: "192.0.3.0/24": cidr is immutable');
      expectOneError(check({ ...good, spec: { ...good.spec, type: "service", blockSize: 24 } }, { ...good, spec: { ...good.spec, blockSize: 24 } }), "spec.type", /type is immutable/);
      expectOneError(check({ ...good, spec: { ...good.spec, blockSize: 30 } }, good), "spec.blockSize", /blockSize is immutable/);
    });

    test("blockSize absent and the prefix length are the same value", () => {
      const implicit = pool({ cidr: "198.51.100.0/24", type: "service" });
      const explicit = pool({ cidr: "198.51.100.0/24", type: "service", blockSize: 24 });
      expect(check(explicit, implicit)).toEqual([]);
      expect(check(implicit, explicit)).toEqual([]);
      const pod = pool({ cidr: "198.51.100.0/24", type: "pod" });
      expectOneError(check({ ...pod, spec: { ...pod.spec, blockSize: 28 } }, pod), "spec.blockSize", /blockSize is immutable/);
    });

    test("allocType absent and bit are the same value", () => {
      const old = pool({ cidr: "192.0.2.0/24", type: "pod", blockSize: 29 });
      expect(check({ ...old, spec: { ...old.spec, allocType: "bit" } }, old)).toEqual([]);
    });

    test("status may change freely and is validated by its own schema", () => {
      const withStatus = { ...good, status: { allocated: { "pool-a-0": 3 }, conditions: [{ type: "Deleting", status: "False", reason: "InUse", message: "3 addresses allocated" }] } };
      expect(check(withStatus, good)).toEqual([]);
      expectOneError(check({ ...good, status: { allocated: { "pool-a-0": -1 } } }, good), "status.allocated[pool-a-0]", /greater than or equal to 0/);
      expectOneError(check({ ...good, status: { conditions: [{ type: "Ready", status: "Yes" }] } }), "status.conditions[0].status", /supported values: "True", "False", "Unknown"/);
    });
  });
});

describe("AddressBlock", () => {
  const block: Obj = {
    apiVersion: API_VERSION,
    kind: "AddressBlock",
    metadata: { name: "pool-a-0", labels: { "addressblock.sart.terassyi.net/node": "node-1", "sart.terassyi.net/addresspool": "pool-a" } },
    spec: { cidr: "192.0.2.0/29", type: "pod", poolRef: "pool-a", nodeRef: "node-1", autoAssign: false },
    status: { index: 0 },
  };
  test("valid, and cidr/poolRef immutable", () => {
    expect(check(block)).toEqual([]);
    expect(check({ ...block, spec: { ...block.spec, autoAssign: true } }, block)).toEqual([]);
    expectOneError(check({ ...block, spec: { ...block.spec, cidr: "192.0.2.8/29" } }, block), "spec.cidr", /immutable/);
    expectOneError(check({ ...block, spec: { ...block.spec, poolRef: "pool-b" } }, block), "spec.poolRef", /immutable/);
    expectOneError(check({ ...block, spec: { ...block.spec, cidr: "192.0.2.4/29" } }), "spec.cidr", /host bits/);
  });
});

describe("BGP kinds", () => {
  const peer: Obj = {
    apiVersion: API_VERSION,
    kind: "BGPPeer",
    metadata: { name: "peer-a", labels: { "bgppeer.sart.terassyi.net/node": "node-1" } },
    spec: { asn: 65000, addr: "192.0.2.1", nodeBGPRef: "node-1", speaker: { path: "127.0.0.1:5000" }, holdTime: 90, keepaliveTime: 30 },
  };

  test("BGPPeer: ASN range, address syntax, hold time", () => {
    expect(check(peer)).toEqual([]);
    expect(check({ ...peer, spec: { ...peer.spec, asn: 4294967295, addr: "2001:db8::1" } })).toEqual([]);
    expectOneError(check({ ...peer, spec: { ...peer.spec, asn: 0 } }), "spec.asn", "spec.asn: Invalid value: 0: spec.asn in body should be greater than or equal to 1");
    expectOneError(check({ ...peer, spec: { ...peer.spec, asn: 4294967296 } }), "spec.asn", /less than or equal to 4294967295/);
    expectOneError(check({ ...peer, spec: { ...peer.spec, asn: "65000" } }), "spec.asn", /must be of type integer/);
    expectOneError(check({ ...peer, spec: { ...peer.spec, addr: "192.0.2.256" } }), "spec.addr", /must be an IPv4 or IPv6 address/);
    expectOneError(check({ ...peer, spec: { ...peer.spec, addr: "peer.example" } }), "spec.addr", /must be an IPv4 or IPv6 address/);
    expectOneError(check({ ...peer, spec: { ...peer.spec, holdTime: 2 } }), "spec.holdTime", /at least 3 seconds/);
    expect(check({ ...peer, spec: { ...peer.spec, holdTime: 0 } })).toEqual([]);
  });

  test("BGPPeer status: conditions carry FSM states", () => {
    expect(check({ ...peer, status: { backoff: 0, conditions: [{ status: "Established", reason: "session up" }] } })).toEqual([]);
    expectOneError(check({ ...peer, status: { backoff: 0, conditions: [{ status: "Up", reason: "x" }] } }), "status.conditions[0].status", /"OpenConfirm", "Established"/);
    expectOneError(check({ ...peer, status: {} }), "status.backoff", "status.backoff: Required value");
  });

  test("NodeBGP: router ID must be IPv4, ASN range", () => {
    const node: Obj = { apiVersion: API_VERSION, kind: "NodeBGP", metadata: { name: "node-1" }, spec: { asn: 4200000000, routerId: "192.0.2.10", speaker: { path: "127.0.0.1:5000" } } };
    expect(check(node)).toEqual([]);
    expectOneError(check({ ...node, spec: { ...node.spec, routerId: "2001:db8::1" } }), "spec.routerId", /must be of type ipv4/);
    expectOneError(check({ ...node, spec: { ...node.spec, asn: -5 } }), "spec.asn", /greater than or equal to 1/);
    const withPeers = { ...node, spec: { ...node.spec, peers: [{ name: "p", spec: { ...peer.spec, asn: 0 } }] } };
    expectOneError(check(withPeers), "spec.peers[0].spec.asn", /greater than or equal to 1/);
    expectOneError(check({ ...node, status: { backoff: 0, conditions: [{ status: "Available", reason: "Bogus" }] } }), "status.conditions[0].reason", /"InvalidConfiguration"/);
  });

  test("ClusterBGP: selectors and peers", () => {
    const cb: Obj = {
      apiVersion: API_VERSION,
      kind: "ClusterBGP",
      metadata: { name: "cb" },
      spec: { asnSelector: { from: "label" }, routerIdSelector: { from: "internalAddress" }, speaker: { path: "127.0.0.1:5000" }, peers: [{ peerTemplateRef: "t" }] },
    };
    expect(check(cb)).toEqual([]);
    expectOneError(check({ ...cb, spec: { ...cb.spec, asnSelector: { from: "asn" } } }), "spec.asnSelector.asn", /asn is required when from is asn/);
    expect(check({ ...cb, spec: { ...cb.spec, asnSelector: { from: "asn", asn: 65001 } } })).toEqual([]);
    expectOneError(check({ ...cb, spec: { ...cb.spec, routerIdSelector: { from: "routerId", routerId: "not-an-ip" } } }), "spec.routerIdSelector.routerId", /ipv4/);
    expectOneError(check({ ...cb, spec: { ...cb.spec, routerIdSelector: { from: "routerId" } } }), "spec.routerIdSelector.routerId", /required when from is routerId/);
    expectOneError(check({ ...cb, spec: { ...cb.spec, peers: [{ nodeBGPSelector: { bgp: "a" } }] } }), "spec.peers[0]", /peerTemplateRef, or peerConfig with asn and addr/);
    expectOneError(check({ ...cb, spec: { ...cb.spec, peers: [{ peerConfig: { asn: 65000 } }] } }), "spec.peers[0]", /peerConfig with asn and addr/);
    expectOneError(check({ ...cb, spec: { ...cb.spec, peers: [{ peerConfig: { asn: 65000, addr: "x" } }] } }), "spec.peers[0].peerConfig.addr", /IPv4 or IPv6/);
    expectOneError(check({ ...cb, spec: { ...cb.spec, asnSelector: { from: "node" } } }), "spec.asnSelector.from", /supported values: "asn", "label"/);
    const many = Array.from({ length: 1025 }, (_, i) => ({ peerTemplateRef: `t${i}` }));
    expectOneError(check({ ...cb, spec: { ...cb.spec, peers: many } }), "spec.peers", "spec.peers: Too many: must have at most 1024 items");
  });

  test("BGPPeerTemplate: all fields optional, each checked", () => {
    const t: Obj = { apiVersion: API_VERSION, kind: "BGPPeerTemplate", metadata: { name: "t" }, spec: {} };
    expect(check(t)).toEqual([]);
    expectOneError(check({ ...t, spec: { asn: 0 } }), "spec.asn", /greater than or equal to 1/);
  });

  test("BGPAdvertisement: namespaced, protocol matches the CIDR's family, peer states", () => {
    const adv: Obj = {
      apiVersion: API_VERSION,
      kind: "BGPAdvertisement",
      metadata: { name: "svc-abcde-192.0.2.7", namespace: "test", labels: { "kubernetes.io/service-name": "svc" } },
      spec: { cidr: "192.0.2.7/32", type: "service", protocol: "ipv4" },
      status: { peers: { "peer-a": "Advertised", "peer-b": "NotAdvertised" } },
    };
    expect(check(adv)).toEqual([]);
    expectOneError(check({ ...adv, metadata: { name: adv.metadata.name } }), "metadata.namespace", "metadata.namespace: Required value");
    expectOneError(check({ ...adv, spec: { ...adv.spec, protocol: "ipv6" } }), "spec.protocol", /protocol must match the address family/);
    expect(check({ ...adv, spec: { cidr: "2001:db8::7/128", type: "service", protocol: "ipv6" } })).toEqual([]);
    expectOneError(check({ ...adv, status: { peers: { "peer-a": "Done" } } }), "status.peers[peer-a]", /"NotAdvertised", "Advertised", "Withdraw"/);
  });

  test("BlockRequest: pool and node required", () => {
    const br: Obj = { apiVersion: API_VERSION, kind: "BlockRequest", metadata: { name: "pool-a-node-1" }, spec: { pool: "pool-a" } };
    expectOneError(check(br), "spec.node", "spec.node: Required value");
  });
});

describe("structural processing", () => {
  test("unknown fields are errors by default, pruned by admit(), ignorable", () => {
    const obj = pool({ cidr: "192.0.2.0/24", type: "pod", colour: "blue", extra: { a: 1 } });
    expect(check(obj).map((e) => e.message)).toEqual(["spec.colour: Unknown field: field not declared in schema", "spec.extra: Unknown field: field not declared in schema"]);
    expect(validate(obj, crdFor("AddressPool"), undefined, { unknownFields: "ignore" })).toEqual([]);
    const a = admit<Obj>(obj, crdFor("AddressPool"));
    expect(a.unknownFields).toEqual(["spec.colour", "spec.extra"]);
    expect(a.object.spec).toEqual({ cidr: "192.0.2.0/24", type: "pod", allocType: "bit", autoAssign: false });
  });

  test("nulls: kept where nullable, pruned (then defaulted) elsewhere; the input is not mutated", () => {
    const input = pool({ cidr: "192.0.2.0/24", type: "pod", allocType: null, blockSize: null });
    const copy = structuredClone(input);
    const a = admit<Obj>(input, crdFor("AddressPool"));
    expect(a.errors).toEqual([]);
    expect(a.object.spec).toEqual({ cidr: "192.0.2.0/24", type: "pod", allocType: "bit", autoAssign: false });
    expect(input).toEqual(copy);
    const peer = admit<Obj>(
      { apiVersion: API_VERSION, kind: "BGPPeerTemplate", metadata: { name: "t" }, spec: { asn: null, groups: null } },
      crdFor("BGPPeerTemplate"),
    );
    expect(peer.errors).toEqual([]);
    expect(peer.object.spec).toEqual({ asn: null, groups: null });
  });

  test("metadata: name syntax, generateName, label values; a cluster-scoped namespace is dropped", () => {
    expectOneError(check(pool({ cidr: "192.0.2.0/24", type: "pod" }, "Pool_A")), "metadata.name", /RFC 1123 subdomain/);
    expectOneError(check({ ...pool({ cidr: "192.0.2.0/24", type: "pod" }), metadata: {} }), "metadata.name", /name or generateName is required/);
    expect(check({ ...pool({ cidr: "192.0.2.0/24", type: "pod" }), metadata: { generateName: "pool-" } })).toEqual([]);
    expectOneError(check({ ...pool({ cidr: "192.0.2.0/24", type: "pod" }), metadata: { name: "p", labels: { a: "bad value" } } }), "metadata.labels", /valid label/);
    const a = admit<Obj>({ ...pool({ cidr: "192.0.2.0/24", type: "pod" }), metadata: { name: "p", namespace: "default" } }, crdFor("AddressPool"));
    expect(a.errors).toEqual([]);
    expect(a.object.metadata).toEqual({ name: "p" });
  });

  test("apiVersion and kind must be the CRD's", () => {
    const obj = { ...pool({ cidr: "192.0.2.0/24", type: "pod" }), apiVersion: "sart.terassyi.net/v1alpha1" };
    expectOneError(check(obj), "apiVersion", /must be one of sart.terassyi.net\/v1alpha2/);
    expectOneError(validate({ ...pool({ cidr: "192.0.2.0/24", type: "pod" }), kind: "AddressBlock" }, crdFor("AddressPool")), "kind", /must be AddressPool/);
  });

  test("invalidStatus builds the API server's 422 body", () => {
    const errors = check(pool({ cidr: "192.0.2.1/24", type: "service", blockSize: 25 }));
    const status = invalidStatus("AddressPool", "sart.terassyi.net", "pool-a", errors);
    expect(status.code).toBe(422);
    expect(status.reason).toBe("Invalid");
    expect(status.message).toBe(
      'AddressPool.sart.terassyi.net "pool-a" is invalid: [spec.cidr: Invalid value: "192.0.2.1/24": must be a network address in CIDR notation with no host bits set, e.g. 192.0.2.0/24, ' +
        "spec.blockSize: Invalid value: 25: a service pool is one block, so its blockSize must equal the CIDR's prefix length]",
    );
    expect(status.details.causes).toEqual([
      { reason: "FieldValueInvalid", field: "spec.cidr", message: 'Invalid value: "192.0.2.1/24": must be a network address in CIDR notation with no host bits set, e.g. 192.0.2.0/24' },
      { reason: "FieldValueInvalid", field: "spec.blockSize", message: "Invalid value: 25: a service pool is one block, so its blockSize must equal the CIDR's prefix length" },
    ]);
  });
});

describe("sart extensions", () => {
  const svcPool = (spec: Record<string, unknown>, cidr = "198.51.100.0/24") => pool({ cidr, type: "service", ...spec });

  test("AddressPool: serviceAllocation, avoidBuggyIPs and bgp as documented are valid", () => {
    expect(
      check(
        svcPool({
          avoidBuggyIPs: true,
          serviceAllocation: {
            priority: 10,
            namespaces: ["team-a", "b2"],
            namespaceSelectors: [{ matchLabels: { tier: "gold" } }, {}],
            serviceSelectors: [{ matchExpressions: [{ key: "app", operator: "In", values: ["web"] }, { key: "canary", operator: "DoesNotExist" }] }],
          },
          bgp: { communities: ["65000:100", "no-export", "0:0", "65535:65535"], largeCommunities: ["4294967295:0:1"], localPref: 200, aggregationLength: 24 },
        }),
      ),
    ).toEqual([]);
    expect(check(svcPool({ bgp: { aggregationLengthV6: 120 } }, "2001:db8::/112"))).toEqual([]);
    // Nothing is defaulted in: the original's pools stay as they were.
    const { object } = admit<Obj>(svcPool({}), crdFor("AddressPool"));
    expect(Object.keys(object.spec).sort()).toEqual(["allocType", "autoAssign", "cidr", "type"]);
  });

  test("AddressPool: bad communities, selectors and scopes are refused naming the field", () => {
    expectOneError(check(svcPool({ bgp: { communities: ["65000:100", "65536:1"] } })), "spec.bgp.communities[1]", /two numbers 0-65535 joined by ':' .* or a well-known community \(no-export, /);
    expectOneError(check(svcPool({ bgp: { communities: ["no-such"] } })), "spec.bgp.communities[0]", "Invalid value: \"no-such\"");
    expectOneError(check(svcPool({ bgp: { largeCommunities: ["4294967296:1:1"] } })), "spec.bgp.largeCommunities[0]", /three numbers 0-4294967295/);
    expectOneError(check(svcPool({ bgp: { localPref: 4294967296 } })), "spec.bgp.localPref", /less than or equal to 4294967295/);
    expectOneError(check(svcPool({ serviceAllocation: { namespaces: ["Team_A"] } })), "spec.serviceAllocation.namespaces[0]", /must be a namespace name/);
    expectOneError(check(svcPool({ serviceAllocation: { priority: -1 } })), "spec.serviceAllocation.priority", /greater than or equal to 0/);
    expectOneError(
      check(svcPool({ serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ key: "app", operator: "In" }] }] } })),
      "spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].values",
      /non-empty for In and NotIn/,
    );
    expectOneError(
      check(svcPool({ serviceAllocation: { namespaceSelectors: [{ matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] }] } })),
      "spec.serviceAllocation.namespaceSelectors[0].matchExpressions[0].values",
      /absent for Exists and DoesNotExist/,
    );
    expectOneError(check(svcPool({ serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ key: "a", operator: "Like", values: ["x"] }] }] } })), "spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].operator", /Unsupported value: "Like"/);
  });

  test("AddressPool: service-pool fields on a pod pool, and aggregation outside the pool or of the wrong family, are refused", () => {
    const podPool = (spec: Record<string, unknown>) => pool({ cidr: "192.0.2.0/24", type: "pod", blockSize: 29, ...spec });
    expectOneError(check(podPool({ serviceAllocation: { priority: 1 } })), "spec.serviceAllocation", "serviceAllocation applies to service pools only");
    expectOneError(check(podPool({ avoidBuggyIPs: true })), "spec.avoidBuggyIPs", "avoidBuggyIPs applies to service pools only");
    expect(check(podPool({ avoidBuggyIPs: false }))).toEqual([]);
    expectOneError(check(podPool({ bgp: { localPref: 1 } })), "spec.bgp", /bgp applies to service pools only/);
    expectOneError(check(svcPool({ bgp: { aggregationLength: 23 } })), "spec.bgp.aggregationLength", /at least the pool's prefix length/);
    expectOneError(check(svcPool({ bgp: { aggregationLength: 33 } })), "spec.bgp.aggregationLength", /less than or equal to 32/);
    expectOneError(check(svcPool({ bgp: { aggregationLength: 30 } }, "2001:d00::/24")), "spec.bgp.aggregationLength", /applies to IPv4 pools/);
    expectOneError(check(svcPool({ bgp: { aggregationLengthV6: 24 } })), "spec.bgp.aggregationLengthV6", /applies to IPv6 pools/);
    expectOneError(check(svcPool({ bgp: { aggregationLengthV6: 47 } }, "2001:db8::/48")), "spec.bgp.aggregationLengthV6", /at least the pool's prefix length/);
  });

  const session = (kind: "BGPPeer" | "BGPPeerTemplate", spec: Record<string, unknown>): Obj => ({
    apiVersion: API_VERSION,
    kind,
    metadata: { name: "p" },
    spec: kind === "BGPPeer" ? { asn: 65000, addr: "192.0.2.1", nodeBGPRef: "n", speaker: { path: "127.0.0.1:5000" }, ...spec } : spec,
  });

  test.each(["BGPPeer", "BGPPeerTemplate"] as const)("%s session options: valid ones pass, each bad one names its field", (kind) => {
    const good = { ebgpMultihop: 255, sourceAddress: "2001:db8::1", connectRetryTime: 5, passwordSecret: { name: "auth", namespace: "kube-system", key: "pw" }, bfdProfile: "fast", families: ["ipv6-unicast", "ipv4-unicast"] };
    expect(check(session(kind, good))).toEqual([]);
    expectOneError(check(session(kind, { ebgpMultihop: 0 })), "spec.ebgpMultihop", /greater than or equal to 1/);
    expectOneError(check(session(kind, { ebgpMultihop: 256 })), "spec.ebgpMultihop", /less than or equal to 255/);
    expectOneError(check(session(kind, { sourceAddress: "192.0.2.300" })), "spec.sourceAddress", /must be an IPv4 or IPv6 address/);
    expectOneError(check(session(kind, { connectRetryTime: 0 })), "spec.connectRetryTime", /greater than or equal to 1/);
    expectOneError(check(session(kind, { passwordSecret: { name: "auth" } })), "spec.passwordSecret.namespace", /Required value/);
    expectOneError(check(session(kind, { families: ["ipv4-multicast"] })), "spec.families[0]", /Unsupported value: "ipv4-multicast"/);
    expectOneError(check(session(kind, { families: ["ipv4-unicast", "ipv4-unicast"] })), "spec.families", /must not list a family twice/);
    expectOneError(check(session(kind, { bfdProfile: "" })), "spec.bfdProfile", /at least 1 chars long/);
  });

  test("BFDProfile: MetalLB's defaults (300 ms, 300 ms, 3) and bounds", () => {
    const profile = (spec: Record<string, unknown>): Obj => ({ apiVersion: API_VERSION, kind: "BFDProfile", metadata: { name: "fast" }, spec });
    const { object, errors } = admit<Obj>(profile({}), crdFor("BFDProfile"));
    expect(errors).toEqual([]);
    expect(object.spec).toEqual({ receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3 });
    expect(check(profile({ receiveInterval: 10, transmitInterval: 60000, detectMultiplier: 255 }))).toEqual([]);
    expectOneError(check(profile({ receiveInterval: 9 })), "spec.receiveInterval", /greater than or equal to 10/);
    expectOneError(check(profile({ transmitInterval: 60001 })), "spec.transmitInterval", /less than or equal to 60000/);
    expectOneError(check(profile({ detectMultiplier: 1 })), "spec.detectMultiplier", /greater than or equal to 2/);
    expect(admit<Obj>(profile({ echoMode: true }), crdFor("BFDProfile")).unknownFields ?? []).toEqual(["spec.echoMode"]);
  });
});
