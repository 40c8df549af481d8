// The CEL subset interpreter and the IP/CIDR parsing it and the formats use.

import { describe, expect, test } from "bun:test";
import { CelEvalError, CelSyntaxError, CelUnsupportedError, compile } from "../../host/kube/schema/cel.ts";
import { formatCIDR, formatIP, maskedCIDR, parseCIDR, parseIP } from "../../host/kube/schema/ip.ts";

const run = (rule: string, self: unknown = {}, oldSelf?: unknown) => compile(rule).evaluate(self, oldSelf);

describe("CEL subset", () => {
  test("literals, arithmetic, comparisons, logic, ternary", () => {
    expect(run("1 + 2 == 3")).toBe(true);
    expect(run("-3 < 0 && 'a' < 'b' && 2 >= 2 && 3 > 2 && 1 <= 1 && 1 != 2")).toBe(true);
    expect(run("!(1 == 2)")).toBe(true);
    expect(run("true ? 'x' : 'y'")).toBe("x");
    expect(run("false ? 1 : true ? 2 : 3")).toBe(2);
    expect(run("'ab' + 'c' == 'abc'")).toBe(true);
    expect(run("null == null")).toBe(true);
    expect(run('"double" == \'double\'')).toBe(true);
    expect(run("'it\\'s'")).toBe("it's");
    expect(run("0x10 == 16")).toBe(true);
  });

  test("self, oldSelf, field selection, indexing, has(), size(), in", () => {
    const self = { a: { b: 5 }, list: [1, 2, 3], s: "héllo", m: { k: "v" } };
    expect(run("self.a.b == 5", self)).toBe(true);
    expect(run("self.list[1] == 2", self)).toBe(true);
    expect(run("self.m['k'] == 'v'", self)).toBe(true);
    expect(run("has(self.a) && !has(self.z) && has(self.a.b)", self)).toBe(true);
    expect(run("size(self.list) == 3 && self.list.size() == 3 && size(self.s) == 5 && size(self.m) == 1", self)).toBe(true);
    expect(run("2 in self.list && !(7 in self.list) && 'k' in self.m && self.s in ['x', 'héllo']", self)).toBe(true);
    expect(run("self.startsWith('hé') && self.endsWith('lo') && self.contains('ll')", "héllo")).toBe(true);
    // matches(): RE2's partial match, as CEL's.
    expect(run("self.matches('^[0-9]+:[0-9]+$') && self.matches('0:1') && !self.matches('^5$')", "65000:100")).toBe(true);
    expect(() => run("self.matches('(')", "x")).toThrow(CelEvalError);
    expect(run("self == oldSelf", 3, 3)).toBe(true);
    expect(run("self.a == oldSelf.a", { a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(run("self.a == oldSelf.a", { a: { x: 1 } }, { a: { x: 2 } })).toBe(false);
    expect(compile("self.x == oldSelf.x").usesOldSelf).toBe(true);
    expect(compile("has(self.x) ? self.x > 0 : true").usesOldSelf).toBe(false);
  });

  test("&& and || are commutative with errors, as in CEL", () => {
    expect(run("false && self.missing == 1")).toBe(false);
    expect(run("self.missing == 1 && false")).toBe(false);
    expect(run("self.missing == 1 || true")).toBe(true);
    expect(run("true || self.missing == 1")).toBe(true);
    expect(() => run("true && self.missing == 1")).toThrow(CelEvalError);
    expect(() => run("self.missing == 1 || false")).toThrow(/no such key: missing/);
  });

  test("type errors and bad conversions are evaluation errors", () => {
    expect(() => run("1 < 'a'")).toThrow(/no such overload/);
    expect(() => run("!1")).toThrow(CelEvalError);
    expect(() => run("1 ? 2 : 3")).toThrow(CelEvalError);
    expect(() => run("self.x", 5)).toThrow(CelEvalError);
    expect(() => run("self[3]", [1])).toThrow(/index out of bounds/);
    expect(() => run("cidr('nope')")).toThrow(/network address parse error/);
    expect(() => run("int('x1')")).toThrow(CelEvalError);
    expect(() => run("ip('1.2.3.4').prefixLength()")).toThrow(/no such overload/);
  });

  test("Kubernetes cidr and ip library functions", () => {
    expect(run("isCIDR('10.0.0.0/8') && isCIDR('2001:db8::/32') && isCIDR('10.0.0.1/8')")).toBe(true);
    expect(run("isCIDR('10.0.0.0/33') || isCIDR('010.0.0.0/8') || isCIDR('10.0.0.0/08') || isCIDR('::ffff:1.2.3.0/120') || isCIDR('10.0.0.0')")).toBe(false);
    expect(run("cidr('192.168.0.1/24').masked() == cidr('192.168.0.0/24')")).toBe(true);
    expect(run("cidr('192.168.0.1/24') == cidr('192.168.0.1/24').masked()")).toBe(false);
    expect(run("cidr('192.168.0.0/16').prefixLength()")).toBe(16);
    expect(run("cidr('::1/128').ip().family()")).toBe(6);
    expect(run("cidr('192.0.2.0/24').ip().family()")).toBe(4);
    expect(run("cidr('192.168.0.0/16').containsIP('192.168.3.4') && !cidr('192.168.0.0/16').containsIP(ip('192.169.0.1'))")).toBe(true);
    expect(run("cidr('192.168.0.0/16').containsCIDR('192.168.10.0/24') && !cidr('192.168.1.0/24').containsCIDR('192.168.0.0/16')")).toBe(true);
    expect(run("!cidr('192.168.0.0/16').containsIP('2001:db8::1')")).toBe(true);
    expect(run("string(cidr('2001:DB8:0:0::/32'))")).toBe("2001:db8::/32");
    expect(run("string(ip('2001:db8::1'))")).toBe("2001:db8::1");
    expect(run("isIP('192.0.2.1') && isIP('::') && isIP('::1.2.3.4') && isIP('1:2:3:4:5:6:7:8')")).toBe(true);
    expect(run("isIP('fe80::1%eth0') || isIP('1::2::3') || isIP('1.2.3') || isIP('::ffff:1.2.3.4') || isIP('01.2.3.4') || isIP('')")).toBe(false);
    expect(run("string(5) + string(true) == '5true' && int('42') == 42")).toBe(true);
  });

  test("anything outside the subset is refused at compile time, naming the rule", () => {
    const unsupported = [
      "self.all(x, x > 0)",
      "self.map(x, x)",
      "1.5 > 1",
      "1u == 1u",
      "{'a': 1}['a'] == 1",
      "other.x == 1",
      "self.replace('a', 'b') == 'b'",
      "r'raw' == 'raw'",
      "'''triple''' == 'x'",
      "self.x * 2 == 4",
      "self.x % 2 == 0",
      "quantity('1Gi') > 0",
      "'\\u0041' == 'A'",
    ];
    for (const rule of unsupported) {
      expect(() => compile(rule)).toThrow(CelUnsupportedError);
      expect(() => compile(rule)).toThrow(JSON.stringify(rule));
    }
    for (const rule of ["(1 == 1", "1 ==", "self.", "has(self)", "size(1, 2)", "cidr('a').prefixLength(1)", "'open"]) {
      expect(() => compile(rule)).toThrow(CelSyntaxError);
    }
  });
});

describe("IP and CIDR parsing", () => {
  test("IPv4: dotted quad only, no leading zeros", () => {
    expect(parseIP("192.0.2.255")).toEqual({ family: 4, bytes: new Uint8Array([192, 0, 2, 255]) });
    for (const bad of ["192.0.2", "192.0.2.256", "192.0.2.01", "192.0.2.1.", " 192.0.2.1", "1e2.0.0.1", "-1.0.0.0"]) expect(parseIP(bad)).toBeNull();
  });

  test("IPv6: compression, embedded IPv4, no zones; RFC 5952 output", () => {
    expect(formatIP(parseIP("2001:DB8:0:0:1:0:0:1")!)).toBe("2001:db8::1:0:0:1");
    expect(formatIP(parseIP("2001:db8:0:1:1:1:1:1")!)).toBe("2001:db8:0:1:1:1:1:1");
    expect(formatIP(parseIP("::")!)).toBe("::");
    expect(formatIP(parseIP("::1.2.3.4")!)).toBe("::102:304");
    expect(formatIP(parseIP("1::")!)).toBe("1::");
    for (const bad of ["1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", ":1", "1:", "1:::2", "12345::", "fe80::1%1", "::1.2.3", "1::2::3", "g::1"]) {
      expect(parseIP(bad)).toBeNull();
    }
  });

  test("CIDR: prefix length bounds, masking, text form", () => {
    expect(parseCIDR("10.0.0.0/0")?.prefixLength).toBe(0);
    expect(parseCIDR("10.0.0.0/32")?.prefixLength).toBe(32);
    expect(parseCIDR("2001:db8::/128")?.prefixLength).toBe(128);
    for (const bad of ["10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/08", "10.0.0.0", "/8"]) expect(parseCIDR(bad)).toBeNull();
    expect(formatCIDR(maskedCIDR(parseCIDR("192.0.2.77/27")!))).toBe("192.0.2.64/27");
    expect(formatCIDR(maskedCIDR(parseCIDR("2001:db8::ffff/113")!))).toBe("2001:db8::8000/113");
  });
});
