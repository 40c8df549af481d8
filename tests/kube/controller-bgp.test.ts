// ClusterBGP -> NodeBGP + BGPPeer, from the original project's sample manifests
// (crds/samples/lb, from shared/seed/manifests/lb: peer_template.yaml, cluster_bgp_{a,b,c}.yaml) applied unchanged.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import type { Controller } from "../../host/kube/controller/controller.ts";
import type { KubeObject, Store } from "../../host/kube/store.ts";
import type { BGPPeer, ClusterBGP, Node, NodeBGP } from "../../host/kube/types.ts";
import { backends } from "./controller-backends.ts";
import { type Backend, eventsFor, eventually, startController } from "./controller-harness.ts";

// The original's sample manifests, kept in the repository (crds/samples/lb, a copy of shared/seed).
const SAMPLES = join(import.meta.dir, "../../crds/samples/lb");

function seed(file: string): KubeObject {
  return yaml.load(readFileSync(join(SAMPLES, file), "utf8")) as KubeObject;
}

function node(name: string, labels: Record<string, string>, internalIP?: string): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels },
    spec: {},
    status: internalIP ? { addresses: [{ type: "InternalIP", address: internalIP }] } : {},
  };
}

function bgpScenarios(backend: Backend) {
  describe(`ClusterBGP on ${backend.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let ctl: Controller;

    beforeEach(async () => {
      ({ store, close } = await backend.open());
      ctl = await startController(store);
    });
    afterEach(async () => {
      await ctl.stop();
      await close();
    });

    test("sample manifests: NodeBGP per selected node, peers from the template and inline config", async () => {
      await store.create(node("sart-control-plane", { bgp: "a", "sart.terassyi.net/asn": "65001" }, "192.0.2.11"));
      await store.create(node("sart-worker", { bgp: "a", bgp2: "c", "sart.terassyi.net/asn": "65002" }, "192.0.2.12"));
      await store.create(node("unselected", { "sart.terassyi.net/asn": "65003" }, "192.0.2.13"));
      for (const f of ["peer_template.yaml", "cluster_bgp_a.yaml", "cluster_bgp_c.yaml"]) await store.create(seed(f));

      const nb = await eventually(() => store.get<NodeBGP>("NodeBGP", { name: "sart-control-plane" }), "NodeBGP sart-control-plane");
      expect(nb.spec).toMatchObject({ asn: 65001, routerId: "192.0.2.11", speaker: { path: "127.0.0.1:5000", multipath: true } });
      expect(nb.spec.peers?.map((p) => p.name)).toEqual(["bgppeertemplate-sample-sart-control-plane-65000-9.9.9.9"]);
      expect(nb.metadata.ownerReferences?.map((o) => o.name)).toEqual(["clusterbgp-sample-a"]);
      expect(nb.metadata.labels?.bgp).toBe("a");

      const worker = await eventually(async () => {
        const w = await store.get<NodeBGP>("NodeBGP", { name: "sart-worker" });
        return w?.spec.peers?.length === 2 ? w : undefined;
      }, "NodeBGP sart-worker with both ClusterBGPs' peers");
      expect(worker.spec.peers!.map((p) => p.name).sort()).toEqual([
        "bgppeertemplate-sample-sart-worker-65000-9.9.9.9",
        "sart-worker-65000-7.7.7.7",
      ]);
      expect(await store.get("NodeBGP", { name: "unselected" })).toBeUndefined();

      const peer = await eventually(() => store.get<BGPPeer>("BGPPeer", { name: "bgppeertemplate-sample-sart-control-plane-65000-9.9.9.9" }), "BGPPeer");
      expect(peer.metadata.labels?.["bgppeer.sart.terassyi.net/node"]).toBe("sart-control-plane");
      expect(peer.spec).toMatchObject({ asn: 65000, addr: "9.9.9.9", groups: ["to-router0"], nodeBGPRef: "sart-control-plane", clusterBGPRef: "clusterbgp-sample-a" });
      const inline = await eventually(() => store.get<BGPPeer>("BGPPeer", { name: "sart-worker-65000-7.7.7.7" }), "inline BGPPeer");
      expect(inline.spec).toMatchObject({ asn: 65000, addr: "7.7.7.7", groups: ["to-router1"], clusterBGPRef: "clusterbgp-sample-c" });
      await eventually(async () => {
        const cb = await store.get<ClusterBGP>("ClusterBGP", { name: "clusterbgp-sample-a" });
        return JSON.stringify(cb?.status?.desiredNodes) === JSON.stringify(["sart-control-plane", "sart-worker"]);
      }, "ClusterBGP status lists its nodes");

      // A node leaving the selector loses its NodeBGP and peers.
      await store.patch("Node", { name: "sart-control-plane" }, { metadata: { labels: { bgp: null } } });
      await eventually(async () => !(await store.get("NodeBGP", { name: "sart-control-plane" })), "NodeBGP removed");
      await eventually(async () => !(await store.get("BGPPeer", { name: "bgppeertemplate-sample-sart-control-plane-65000-9.9.9.9" })), "BGPPeer removed");

      // Deleting a ClusterBGP removes what only it made.
      await store.delete("ClusterBGP", { name: "clusterbgp-sample-c" });
      await eventually(async () => !(await store.get("BGPPeer", { name: "sart-worker-65000-7.7.7.7" })), "inline peer removed");
      await eventually(async () => !(await store.get("ClusterBGP", { name: "clusterbgp-sample-c" })), "ClusterBGP gone");
      const w2 = await eventually(async () => {
        const w = await store.get<NodeBGP>("NodeBGP", { name: "sart-worker" });
        return w?.spec.peers?.length === 1 ? w : undefined;
      }, "sart-worker keeps the template peer");
      expect(w2.spec.peers![0].name).toBe("bgppeertemplate-sample-sart-worker-65000-9.9.9.9");
    });

    test("selectors: fixed ASN and router ID; a node without its ASN label is reported, not configured", async () => {
      await store.create(node("n1", { rack: "1" }, "192.0.2.21"));
      await store.create(node("n2", { rack: "2", "sart.terassyi.net/router-id": "192.0.2.99" }));
      await store.create({
        apiVersion: "sart.terassyi.net/v1alpha2",
        kind: "ClusterBGP",
        metadata: { name: "fixed" },
        spec: { nodeSelector: { rack: "1" }, asnSelector: { from: "asn", asn: 64512 }, routerIdSelector: { from: "routerId", routerId: "192.0.2.1" }, speaker: { path: "127.0.0.1:5000" } },
      } as ClusterBGP);
      await store.create({
        apiVersion: "sart.terassyi.net/v1alpha2",
        kind: "ClusterBGP",
        metadata: { name: "labelled" },
        spec: { nodeSelector: { rack: "2" }, asnSelector: { from: "label" }, routerIdSelector: { from: "label" }, speaker: { path: "127.0.0.1:5000" } },
      } as ClusterBGP);
      const n1 = await eventually(() => store.get<NodeBGP>("NodeBGP", { name: "n1" }), "NodeBGP n1");
      expect(n1.spec).toMatchObject({ asn: 64512, routerId: "192.0.2.1" });
      await eventually(async () => (await eventsFor(store, "labelled", "InvalidNode")).length > 0, "InvalidNode Event");
      expect(await store.get("NodeBGP", { name: "n2" })).toBeUndefined();
      await store.patch("Node", { name: "n2" }, { metadata: { labels: { "sart.terassyi.net/asn": "65010" } } });
      const n2 = await eventually(() => store.get<NodeBGP>("NodeBGP", { name: "n2" }), "NodeBGP n2 once labelled");
      expect(n2.spec).toMatchObject({ asn: 65010, routerId: "192.0.2.99" });
    });

    test("session options (multihop, source address, timers, password Secret, BFD profile, families) go from the template through peerConfig to NodeBGP and BGPPeer", async () => {
      await store.create(node("opt-node", { opt: "yes", "sart.terassyi.net/asn": "65020" }, "192.0.2.20"));
      await store.create({
        apiVersion: "sart.terassyi.net/v1alpha2",
        kind: "BFDProfile",
        metadata: { name: "fast" },
        spec: { receiveInterval: 100, transmitInterval: 100 },
      });
      await store.create({
        apiVersion: "sart.terassyi.net/v1alpha2",
        kind: "BGPPeerTemplate",
        metadata: { name: "routers" },
        spec: {
          asn: 65000,
          addr: "192.0.2.1",
          ebgpMultihop: 2,
          sourceAddress: "192.0.2.20",
          holdTime: 30,
          keepaliveTime: 10,
          connectRetryTime: 5,
          passwordSecret: { name: "bgp-auth", namespace: "kube-system" },
          bfdProfile: "fast",
          families: ["ipv4-unicast", "ipv6-unicast"],
        },
      } as KubeObject);
      await store.create({
        apiVersion: "sart.terassyi.net/v1alpha2",
        kind: "ClusterBGP",
        metadata: { name: "with-options" },
        spec: {
          nodeSelector: { opt: "yes" },
          asnSelector: { from: "label" },
          routerIdSelector: { from: "internalAddress" },
          speaker: { path: "127.0.0.1:5000" },
          // peerConfig overrides the template field by field.
          peers: [{ peerTemplateRef: "routers", peerConfig: { holdTime: 9, passwordSecret: { name: "other", namespace: "kube-system", key: "secret" } } }],
        },
      } as ClusterBGP);
      const want = {
        asn: 65000,
        addr: "192.0.2.1",
        ebgpMultihop: 2,
        sourceAddress: "192.0.2.20",
        holdTime: 9,
        keepaliveTime: 10,
        connectRetryTime: 5,
        passwordSecret: { name: "other", namespace: "kube-system", key: "secret" },
        bfdProfile: "fast",
        families: ["ipv4-unicast", "ipv6-unicast"],
        nodeBGPRef: "opt-node",
        clusterBGPRef: "with-options",
      };
      const peer = await eventually(() => store.get<BGPPeer>("BGPPeer", { name: "routers-opt-node-65000-192.0.2.1" }), "BGPPeer from the template");
      expect(peer.spec).toMatchObject(want);
      const nb = await eventually(() => store.get<NodeBGP>("NodeBGP", { name: "opt-node" }), "NodeBGP opt-node");
      expect(nb.spec.peers?.[0]?.spec).toMatchObject(want);
      // A template change reaches the peer; a field dropped from it is dropped from the peer.
      await store.patch("BGPPeerTemplate", { name: "routers" }, { spec: { ebgpMultihop: null, bfdProfile: "slow" } });
      const changed = await eventually(async () => {
        const p = await store.get<BGPPeer>("BGPPeer", { name: "routers-opt-node-65000-192.0.2.1" });
        return p?.spec.bfdProfile === "slow" ? p : undefined;
      }, "BGPPeer follows the template");
      expect(changed.spec.ebgpMultihop).toBeUndefined();
    });
  });
}

for (const b of backends) bgpScenarios(b);
