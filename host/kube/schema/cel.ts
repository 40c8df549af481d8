// A small interpreter for the subset of CEL (Common Expression Language) that
// our CRDs' `x-kubernetes-validations` rules use, with the Kubernetes ip/cidr
// library functions. Anything outside the subset is refused when the rule is
// compiled (CelUnsupportedError), so a CRD change cannot silently skip a rule.
//
// Supported: literals (int, string, true, false, null, lists), `self`,
// `oldSelf`, field selection, indexing, `has(x.f)`, `size()`, `!`, unary `-`,
// `+ -`, `== != < <= > >=`, `in`, `&& ||` (commutative with errors, as in CEL),
// `c ? a : b`, and the functions isCIDR, cidr, isIP, ip, string, int and the
// methods size, prefixLength, masked, ip, family, containsIP, containsCIDR,
// startsWith, endsWith, contains, matches (RE2 partial match; our patterns use the
// syntax RE2 and JavaScript share).

import { type CIDR, type IPAddr, formatCIDR, formatIP, isIPv4Mapped, maskedCIDR, parseCIDR, parseIP, sameCIDR, sameIP } from "./ip.ts";

export class CelSyntaxError extends Error {}
/** The rule uses CEL this interpreter does not implement. */
export class CelUnsupportedError extends Error {}
/** Evaluation failed (no such key, no such overload, bad cidr()...): the rule neither passes nor fails. */
export class CelEvalError extends Error {}

// ---- values ----

export class CidrValue {
  constructor(readonly cidr: CIDR) {}
}
export class IpValue {
  constructor(readonly ip: IPAddr) {}
}
type Value = null | boolean | number | string | Value[] | { [k: string]: Value } | CidrValue | IpValue;

// ---- lexer ----

type Token =
  | { t: "int"; v: number; pos: number }
  | { t: "str"; v: string; pos: number }
  | { t: "id"; v: string; pos: number }
  | { t: "op"; v: string; pos: number }
  | { t: "end"; pos: number };

const OPERATORS = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "?", ":", ".", ",", "(", ")", "[", "]", "+", "-"];

function tokenize(src: string, fail: (pos: number, msg: string, unsupported?: boolean) => never): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^(0x[0-9a-fA-F]+|[0-9]+)([uU]|\.[0-9]|[eE])?/.exec(src.slice(i))!;
      if (m[2]) fail(i, "only signed integer literals are supported (no uint or double)", true);
      out.push({ t: "int", v: Number(m[1]), pos: i });
      i += m[1]!.length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      const word = m[0];
      if ((word === "r" || word === "R" || word === "b" || word === "B") && (src[i + 1] === "'" || src[i + 1] === '"')) {
        fail(i, "raw and bytes string literals are not supported", true);
      }
      out.push({ t: "id", v: word, pos: i });
      i += word.length;
      continue;
    }
    if (c === "'" || c === '"') {
      if (src.startsWith(c.repeat(3), i)) fail(i, "triple-quoted strings are not supported", true);
      let j = i + 1;
      let v = "";
      while (j < src.length && src[j] !== c) {
        if (src[j] === "\\") {
          const e = src[j + 1];
          const map: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r" };
          if (e === undefined || !(e in map)) fail(j, `unsupported escape \\${e ?? ""}`, true);
          v += map[e!];
          j += 2;
        } else {
          v += src[j++];
        }
      }
      if (j >= src.length) fail(i, "unterminated string");
      out.push({ t: "str", v, pos: i });
      i = j + 1;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) fail(i, `unsupported character ${JSON.stringify(c)}`, /[*/%{}]/.test(c));
    out.push({ t: "op", v: op!, pos: i });
    i += op!.length;
  }
  out.push({ t: "end", pos: src.length });
  return out;
}

// ---- parser ----

type Node =
  | { k: "lit"; v: Value }
  | { k: "list"; items: Node[] }
  | { k: "ident"; name: "self" | "oldSelf" }
  | { k: "select"; operand: Node; field: string }
  | { k: "index"; operand: Node; index: Node }
  | { k: "has"; operand: Node; field: string }
  | { k: "call"; fn: string; target?: Node; args: Node[] }
  | { k: "unary"; op: "!" | "-"; arg: Node }
  | { k: "binary"; op: string; l: Node; r: Node }
  | { k: "cond"; c: Node; t: Node; f: Node };

/** Functions: name -> allowed argument counts (for methods, not counting the target). */
const GLOBAL_FUNCTIONS: Record<string, number> = { size: 1, isCIDR: 1, cidr: 1, isIP: 1, ip: 1, string: 1, int: 1 };
const METHODS: Record<string, number> = {
  size: 0,
  prefixLength: 0,
  masked: 0,
  ip: 0,
  family: 0,
  containsIP: 1,
  containsCIDR: 1,
  startsWith: 1,
  endsWith: 1,
  contains: 1,
  matches: 1,
};

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly fail: (pos: number, msg: string, unsupported?: boolean) => never,
  ) {}

  private peek(): Token {
    return this.toks[this.i]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === "op" && t.v === v;
  }
  private eat(v: string): boolean {
    if (!this.isOp(v)) return false;
    this.i++;
    return true;
  }
  private expect(v: string): void {
    if (!this.eat(v)) this.fail(this.peek().pos, `expected ${JSON.stringify(v)}`);
  }

  parseAll(): Node {
    const n = this.expr();
    if (this.peek().t !== "end") this.fail(this.peek().pos, "unexpected input after the expression");
    return n;
  }

  private expr(): Node {
    const c = this.or();
    if (!this.eat("?")) return c;
    const t = this.or();
    this.expect(":");
    return { k: "cond", c, t, f: this.expr() };
  }
  private or(): Node {
    let l = this.and();
    while (this.eat("||")) l = { k: "binary", op: "||", l, r: this.and() };
    return l;
  }
  private and(): Node {
    let l = this.rel();
    while (this.eat("&&")) l = { k: "binary", op: "&&", l, r: this.rel() };
    return l;
  }
  private rel(): Node {
    let l = this.add();
    for (;;) {
      const t = this.peek();
      const op = t.t === "op" && ["==", "!=", "<", "<=", ">", ">="].includes(t.v) ? t.v : t.t === "id" && t.v === "in" ? "in" : null;
      if (!op) return l;
      this.i++;
      l = { k: "binary", op, l, r: this.add() };
    }
  }
  private add(): Node {
    let l = this.unary();
    for (;;) {
      if (this.eat("+")) l = { k: "binary", op: "+", l, r: this.unary() };
      else if (this.eat("-")) l = { k: "binary", op: "-", l, r: this.unary() };
      else return l;
    }
  }
  private unary(): Node {
    if (this.eat("!")) return { k: "unary", op: "!", arg: this.unary() };
    if (this.eat("-")) return { k: "unary", op: "-", arg: this.unary() };
    return this.member();
  }
  private args(): Node[] {
    const out: Node[] = [];
    if (this.eat(")")) return out;
    do out.push(this.expr());
    while (this.eat(","));
    this.expect(")");
    return out;
  }
  private member(): Node {
    let n = this.primary();
    for (;;) {
      if (this.eat(".")) {
        const t = this.peek();
        if (t.t !== "id") this.fail(t.pos, "expected a field or method name after '.'");
        this.i++;
        const name = (t as { v: string }).v;
        if (this.eat("(")) {
          if (!(name in METHODS)) this.fail(t.pos, `unsupported method ${name}()`, true);
          const args = this.args();
          if (args.length !== METHODS[name]) this.fail(t.pos, `${name}() takes ${METHODS[name]} argument(s)`);
          n = { k: "call", fn: name, target: n, args };
        } else {
          n = { k: "select", operand: n, field: name };
        }
      } else if (this.eat("[")) {
        const index = this.expr();
        this.expect("]");
        n = { k: "index", operand: n, index };
      } else {
        return n;
      }
    }
  }
  private primary(): Node {
    const t = this.peek();
    this.i++;
    if (t.t === "int") return { k: "lit", v: t.v };
    if (t.t === "str") return { k: "lit", v: t.v };
    if (t.t === "op" && t.v === "(") {
      const n = this.expr();
      this.expect(")");
      return n;
    }
    if (t.t === "op" && t.v === "[") {
      const items: Node[] = [];
      if (!this.eat("]")) {
        do items.push(this.expr());
        while (this.eat(","));
        this.expect("]");
      }
      return { k: "list", items };
    }
    if (t.t !== "id") this.fail(t.pos, "expected an expression");
    const name = (t as { v: string }).v;
    if (name === "true" || name === "false") return { k: "lit", v: name === "true" };
    if (name === "null") return { k: "lit", v: null };
    if (this.eat("(")) {
      if (name === "has") {
        const args = this.args();
        const a = args[0];
        if (args.length !== 1 || !a || a.k !== "select") this.fail(t.pos, "has() takes one field selection, e.g. has(self.field)");
        const sel = a as Extract<Node, { k: "select" }>;
        return { k: "has", operand: sel.operand, field: sel.field };
      }
      if (!(name in GLOBAL_FUNCTIONS)) this.fail(t.pos, `unsupported function ${name}()`, true);
      const args = this.args();
      if (args.length !== GLOBAL_FUNCTIONS[name]) this.fail(t.pos, `${name}() takes ${GLOBAL_FUNCTIONS[name]} argument(s)`);
      return { k: "call", fn: name, args };
    }
    if (name === "self" || name === "oldSelf") return { k: "ident", name };
    return this.fail(t.pos, `unknown identifier ${name} (only self and oldSelf are bound)`, true);
  }
}

// ---- compiled rules ----

export interface CompiledExpression {
  readonly source: string;
  /** References oldSelf: a transition rule, evaluated only on update. */
  readonly usesOldSelf: boolean;
  /** Field chains selected from self/oldSelf, e.g. [["cidr"], ["peerConfig", "asn"]], for checking against the schema. */
  readonly fieldChains: string[][];
  /** Throws CelEvalError when evaluation fails. */
  evaluate(self: unknown, oldSelf?: unknown): unknown;
}

function mentionsOldSelf(n: Node): boolean {
  switch (n.k) {
    case "ident":
      return n.name === "oldSelf";
    case "lit":
      return false;
    case "list":
      return n.items.some(mentionsOldSelf);
    case "select":
    case "has":
      return mentionsOldSelf(n.operand);
    case "index":
      return mentionsOldSelf(n.operand) || mentionsOldSelf(n.index);
    case "call":
      return (n.target ? mentionsOldSelf(n.target) : false) || n.args.some(mentionsOldSelf);
    case "unary":
      return mentionsOldSelf(n.arg);
    case "binary":
      return mentionsOldSelf(n.l) || mentionsOldSelf(n.r);
    case "cond":
      return mentionsOldSelf(n.c) || mentionsOldSelf(n.t) || mentionsOldSelf(n.f);
  }
}

/** The field names selected from self/oldSelf by a select/has chain, or null when it starts elsewhere. */
function chainOf(n: Node): string[] | null {
  if (n.k === "ident") return [];
  if (n.k !== "select") return null;
  const head = chainOf(n.operand);
  return head && [...head, n.field];
}

function collectChains(n: Node, out: string[][]): void {
  if (n.k === "select" || n.k === "has") {
    const head = chainOf(n.operand);
    if (head) out.push([...head, n.field]);
  }
  switch (n.k) {
    case "list":
      return n.items.forEach((x) => collectChains(x, out));
    case "select":
    case "has":
      return collectChains(n.operand, out);
    case "index":
      collectChains(n.operand, out);
      return collectChains(n.index, out);
    case "call":
      if (n.target) collectChains(n.target, out);
      return n.args.forEach((x) => collectChains(x, out));
    case "unary":
      return collectChains(n.arg, out);
    case "binary":
      collectChains(n.l, out);
      return collectChains(n.r, out);
    case "cond":
      collectChains(n.c, out);
      collectChains(n.t, out);
      return collectChains(n.f, out);
  }
}

/** Parses a rule; throws CelSyntaxError or CelUnsupportedError naming the rule and position. */
export function compile(source: string): CompiledExpression {
  const fail = (pos: number, msg: string, unsupported = false): never => {
    const text = `CEL rule ${JSON.stringify(source)} at ${pos}: ${msg}`;
    throw unsupported ? new CelUnsupportedError(text) : new CelSyntaxError(text);
  };
  const ast = new Parser(tokenize(source, fail), fail).parseAll();
  const fieldChains: string[][] = [];
  collectChains(ast, fieldChains);
  return {
    source,
    usesOldSelf: mentionsOldSelf(ast),
    fieldChains,
    evaluate: (self, oldSelf) => evaluate(ast, { self: self as Value, oldSelf: oldSelf as Value }),
  };
}

// ---- evaluation ----

interface Env {
  self: Value;
  oldSelf: Value;
}

function typeName(v: Value): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "list";
  if (v instanceof CidrValue) return "net.CIDR";
  if (v instanceof IpValue) return "net.IP";
  if (typeof v === "number") return "int";
  if (typeof v === "object") return "map";
  return typeof v === "boolean" ? "bool" : "string";
}

function noOverload(what: string, ...vals: Value[]): never {
  throw new CelEvalError(`no such overload: ${what}(${vals.map(typeName).join(", ")})`);
}

function isMap(v: Value): v is { [k: string]: Value } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof CidrValue) && !(v instanceof IpValue);
}

function equal(a: Value, b: Value): boolean {
  if (a instanceof CidrValue && b instanceof CidrValue) return sameCIDR(a.cidr, b.cidr);
  if (a instanceof IpValue && b instanceof IpValue) return sameIP(a.ip, b.ip);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]!));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && equal(a[k]!, b[k]!));
  }
  return a === b;
}

function asString(fn: string, v: Value): string {
  if (typeof v !== "string") noOverload(fn, v);
  return v as string;
}

function toCidr(v: Value, fn: string): CidrValue {
  if (v instanceof CidrValue) return v;
  const c = parseCIDR(asString(fn, v));
  if (!c || isIPv4Mapped(c.ip)) throw new CelEvalError(`network address parse error: ${JSON.stringify(v)} is not a CIDR`);
  return new CidrValue(c);
}

function toIp(v: Value, fn: string): IpValue {
  if (v instanceof IpValue) return v;
  const ip = parseIP(asString(fn, v));
  if (!ip || isIPv4Mapped(ip)) throw new CelEvalError(`IP address parse error: ${JSON.stringify(v)} is not an IP address`);
  return new IpValue(ip);
}

function cidrContains(c: CIDR, ip: IPAddr, bits: number): boolean {
  if (c.ip.family !== ip.family || bits < c.prefixLength) return false;
  return sameCIDR(maskedCIDR(c), maskedCIDR({ ip, prefixLength: c.prefixLength }));
}

function callFunction(fn: string, args: Value[]): Value {
  const [a] = args as [Value];
  switch (fn) {
    case "size":
      return size(a);
    case "isCIDR": {
      const c = parseCIDR(asString(fn, a));
      return c !== null && !isIPv4Mapped(c.ip);
    }
    case "cidr":
      return toCidr(asString(fn, a), fn);
    case "isIP": {
      const ip = parseIP(asString(fn, a));
      return ip !== null && !isIPv4Mapped(ip);
    }
    case "ip":
      return toIp(asString(fn, a), fn);
    case "string":
      if (a instanceof CidrValue) return formatCIDR(a.cidr);
      if (a instanceof IpValue) return formatIP(a.ip);
      if (typeof a === "string" || typeof a === "number" || typeof a === "boolean") return String(a);
      return noOverload(fn, a);
    case "int":
      if (typeof a === "number") return a;
      if (typeof a === "string" && /^-?[0-9]+$/.test(a)) return Number(a);
      throw new CelEvalError(`int(): cannot convert ${JSON.stringify(a)}`);
  }
  throw new CelEvalError(`unknown function ${fn}()`);
}

function size(v: Value): number {
  if (typeof v === "string") return [...v].length; // code points, as CEL counts
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  return noOverload("size", v);
}

function callMethod(fn: string, target: Value, args: Value[]): Value {
  const [a] = args as [Value];
  switch (fn) {
    case "size":
      return size(target);
    case "prefixLength":
      if (target instanceof CidrValue) return target.cidr.prefixLength;
      break;
    case "masked":
      if (target instanceof CidrValue) return new CidrValue(maskedCIDR(target.cidr));
      break;
    case "ip":
      if (target instanceof CidrValue) return new IpValue(target.cidr.ip);
      break;
    case "family":
      if (target instanceof IpValue) return target.ip.family;
      break;
    case "containsIP":
      if (target instanceof CidrValue) {
        const ip = toIp(a, fn).ip;
        return cidrContains(target.cidr, ip, ip.family === 4 ? 32 : 128);
      }
      break;
    case "containsCIDR":
      if (target instanceof CidrValue) {
        const other = toCidr(a, fn).cidr;
        return cidrContains(target.cidr, other.ip, other.prefixLength);
      }
      break;
    case "startsWith":
      if (typeof target === "string") return target.startsWith(asString(fn, a));
      break;
    case "endsWith":
      if (typeof target === "string") return target.endsWith(asString(fn, a));
      break;
    case "contains":
      if (typeof target === "string") return target.includes(asString(fn, a));
      break;
    case "matches":
      if (typeof target === "string") return regex(asString(fn, a)).test(target);
      break;
  }
  return noOverload(fn, target, ...args);
}

const regexCache = new Map<string, RegExp>();

function regex(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    try {
      re = new RegExp(pattern, "u");
    } catch (e) {
      throw new CelEvalError(`matches(): invalid pattern ${JSON.stringify(pattern)}: ${(e as Error).message}`);
    }
    regexCache.set(pattern, re);
  }
  return re;
}

type Attempt = { ok: true; v: Value } | { ok: false; err: unknown };
function attempt(f: () => Value): Attempt {
  try {
    return { ok: true, v: f() };
  } catch (err) {
    if (err instanceof CelEvalError) return { ok: false, err };
    throw err;
  }
}

/** CEL's && and ||: the deciding value wins even when the other side errs. */
function logical(op: "&&" | "||", l: () => Value, r: () => Value): Value {
  const decisive = op === "||";
  const a = attempt(l);
  if (a.ok && a.v === decisive) return decisive;
  const b = attempt(r);
  if (b.ok && b.v === decisive) return decisive;
  if (!a.ok) throw a.err;
  if (!b.ok) throw b.err;
  if (typeof a.v !== "boolean" || typeof b.v !== "boolean") noOverload(op, a.v, b.v);
  return !decisive;
}

function compare(op: string, l: Value, r: Value): boolean {
  if (!((typeof l === "number" && typeof r === "number") || (typeof l === "string" && typeof r === "string"))) noOverload(op, l, r);
  const a = l as number | string;
  const b = r as number | string;
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    default:
      return a >= b;
  }
}

function evaluate(n: Node, env: Env): Value {
  const ev = (x: Node) => evaluate(x, env);
  switch (n.k) {
    case "lit":
      return n.v;
    case "list":
      return n.items.map(ev);
    case "ident":
      return env[n.name];
    case "select": {
      const obj = ev(n.operand);
      if (!isMap(obj)) return noOverload(`.${n.field}`, obj);
      if (!(n.field in obj) || obj[n.field] === undefined) throw new CelEvalError(`no such key: ${n.field}`);
      return obj[n.field]!;
    }
    case "has": {
      const obj = ev(n.operand);
      if (!isMap(obj)) return noOverload("has", obj);
      return n.field in obj && obj[n.field] !== undefined;
    }
    case "index": {
      const obj = ev(n.operand);
      const idx = ev(n.index);
      if (Array.isArray(obj) && typeof idx === "number") {
        if (idx < 0 || idx >= obj.length) throw new CelEvalError(`index out of bounds: ${idx}`);
        return obj[idx]!;
      }
      if (isMap(obj) && typeof idx === "string") {
        if (!(idx in obj)) throw new CelEvalError(`no such key: ${idx}`);
        return obj[idx]!;
      }
      return noOverload("[]", obj, idx);
    }
    case "call": {
      const args = n.args.map(ev);
      return n.target ? callMethod(n.fn, ev(n.target), args) : callFunction(n.fn, args);
    }
    case "unary": {
      const v = ev(n.arg);
      if (n.op === "!") return typeof v === "boolean" ? !v : noOverload("!", v);
      return typeof v === "number" ? -v : noOverload("-", v);
    }
    case "cond": {
      const c = ev(n.c);
      if (typeof c !== "boolean") return noOverload("?:", c);
      return c ? ev(n.t) : ev(n.f);
    }
    case "binary": {
      if (n.op === "&&" || n.op === "||") return logical(n.op, () => ev(n.l), () => ev(n.r));
      const l = ev(n.l);
      const r = ev(n.r);
      switch (n.op) {
        case "==":
          return equal(l, r);
        case "!=":
          return !equal(l, r);
        case "in":
          if (Array.isArray(r)) return r.some((x) => equal(x, l));
          if (isMap(r) && typeof l === "string") return l in r;
          return noOverload("in", l, r);
        case "+":
          if (typeof l === "number" && typeof r === "number") return l + r;
          if (typeof l === "string" && typeof r === "string") return l + r;
          if (Array.isArray(l) && Array.isArray(r)) return [...l, ...r];
          return noOverload("+", l, r);
        case "-":
          return typeof l === "number" && typeof r === "number" ? l - r : noOverload("-", l, r);
        default:
          return compare(n.op, l, r);
      }
    }
  }
}
