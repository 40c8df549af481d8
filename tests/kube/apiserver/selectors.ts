// Label selectors (the full string syntax of k8s.io/apimachinery/pkg/labels) and field selectors
// (=, ==, != over a set of supported field paths per resource, as the real server checks them).
import { badRequest } from "./errors.ts";

type LabelRequirement =
  | { op: "=" | "!="; key: string; value: string }
  | { op: "in" | "notin"; key: string; values: Set<string> }
  | { op: "exists" | "!exists"; key: string };

export type LabelSelector = (labels: Record<string, string> | undefined) => boolean;

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function checkKey(key: string, selector: string): string {
  if (!KEY.test(key)) throw badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${selector}"`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (value.length > 63 || !VALUE.test(value)) throw badRequest(`unable to parse requirement: invalid label value "${value}" in selector "${selector}"`);
  return value;
}

function parseRequirement(term: string, selector: string): LabelRequirement {
  let m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) {
    const values = m[3].split(",").map((v) => checkValue(v.trim(), selector));
    return { op: m[2] as "in" | "notin", key: checkKey(m[1], selector), values: new Set(values) };
  }
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (m) return { op: m[2] === "!=" ? "!=" : "=", key: checkKey(m[1], selector), value: checkValue(m[3], selector) };
  m = /^!\s*(\S+)$/.exec(term);
  if (m) return { op: "!exists", key: checkKey(m[1], selector) };
  if (!/\s/.test(term)) return { op: "exists", key: checkKey(term, selector) };
  throw badRequest(`unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=, or end of string`);
}

export function parseLabelSelector(selector: string | null | undefined): LabelSelector | undefined {
  if (!selector || !selector.trim()) return undefined;
  const reqs = splitTopLevel(selector).map((t) => parseRequirement(t, selector));
  return (labels) => {
    for (const r of reqs) {
      const v = labels?.[r.key];
      switch (r.op) {
        case "=":
          if (v !== r.value) return false;
          break;
        case "!=":
          if (v === r.value) return false;
          break;
        case "in":
          if (v === undefined || !r.values.has(v)) return false;
          break;
        case "notin":
          if (v !== undefined && r.values.has(v)) return false;
          break;
        case "exists":
          if (v === undefined) return false;
          break;
        case "!exists":
          if (v !== undefined) return false;
          break;
      }
    }
    return true;
  };
}

export type FieldSelector = (obj: any) => boolean;

function fieldValue(obj: any, path: string): string {
  let cur = obj;
  for (const p of path.split(".")) {
    if (cur === null || cur === undefined) return "";
    cur = cur[p];
  }
  if (cur === null || cur === undefined) return "";
  return typeof cur === "object" ? JSON.stringify(cur) : String(cur);
}

/**
 * `supported` lists the field paths this resource accepts besides metadata.name and
 * metadata.namespace; any other field is rejected with 400 as the real server does.
 */
export function parseFieldSelector(selector: string | null | undefined, supported: readonly string[]): FieldSelector | undefined {
  if (!selector || !selector.trim()) return undefined;
  const terms = selector.split(",").map((t) => t.trim()).filter(Boolean);
  const tests: Array<{ path: string; neg: boolean; value: string }> = [];
  for (const t of terms) {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(t);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${t}'`);
    const path = m[1].trim();
    if (path !== "metadata.name" && path !== "metadata.namespace" && !supported.includes(path)) {
      throw badRequest(`field label not supported: ${path}`);
    }
    tests.push({ path, neg: m[2] === "!=", value: m[3].trim() });
  }
  return (obj) => {
    for (const t of tests) {
      const v = fieldValue(obj, t.path);
      if ((v === t.value) === t.neg) return false;
    }
    return true;
  };
}
