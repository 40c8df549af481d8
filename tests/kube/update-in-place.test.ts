// updateInPlace (host/kube/kube-informer.ts): a new version written into the cached object,
// and the version before returned as a copy of what changed.
import { describe, expect, test } from "bun:test";
import { updateInPlace } from "../../host/kube/kube-informer.ts";

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

describe("updateInPlace", () => {
  const cached = () => ({
    metadata: { name: "a", resourceVersion: "1", labels: { tier: "lb" } },
    spec: { cidr: "192.0.2.1/32", attrs: ["65000:1"] },
    status: { peers: { p1: "NotAdvertised", p2: "NotAdvertised" } },
  });

  test("nothing changed: the cached object is returned and no member is replaced", () => {
    const cur = cached();
    const members = [cur.metadata, cur.spec, cur.spec.attrs, cur.status, cur.status.peers];
    expect(updateInPlace(cur, clone(cur))).toBe(cur);
    members.forEach((m, i) => expect([cur.metadata, cur.spec, cur.spec.attrs, cur.status, cur.status.peers][i]).toBe(m));
  });

  test("a leaf changes: written in place; the version before shares what did not change", () => {
    const cur = cached();
    const next = clone(cur);
    next.metadata.resourceVersion = "2";
    next.status.peers.p1 = "Advertised";
    const { spec, status, metadata } = cur;
    const before = updateInPlace(cur, next) as ReturnType<typeof cached>;
    expect(cur).toEqual(next);
    expect(cur.spec).toBe(spec);
    expect(cur.status).toBe(status);
    expect(cur.metadata).toBe(metadata);
    expect(before).toEqual(cached());
    expect(before).not.toBe(cur);
    expect(before.spec).toBe(spec); // unchanged: shared, not copied
    expect(before.metadata).not.toBe(metadata); // changed: a copy as it was
  });

  test("members that come and go, arrays and type changes", () => {
    const cur = cached() as Record<string, any>;
    const next = clone(cur);
    delete next.metadata.labels;
    next.metadata.deletionTimestamp = "2026-12-07T00:00:00Z";
    next.spec.attrs = ["65000:1", "65000:2"];
    next.status = "gone";
    const before = updateInPlace(cur, next);
    expect(cur).toEqual(next);
    expect(Object.hasOwn(cur.metadata, "labels")).toBe(false);
    expect(before).toEqual(cached());
  });

  test("equal arrays keep the cached array", () => {
    const cur = cached();
    const attrs = cur.spec.attrs;
    const next = clone(cur);
    next.metadata.resourceVersion = "3";
    updateInPlace(cur, next);
    expect(cur.spec.attrs).toBe(attrs);
  });
});
