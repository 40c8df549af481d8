// One table row's text for a decoded message (the sart decode JSON, docs/cli.md).
// Pure: no DOM, so the wording is the same wherever it is shown.
import { codeName, subcodeName } from "../core/codec-names.ts";
import type { AsPathSegment, CodecError, DecodedMessage } from "../core/codec-types.ts";

export type Severity = "ok" | "warning" | "error";

export interface RowSummary {
  time: string;
  flow: string;
  type: string;
  length: string;
  nlri: string[];
  withdrawn: string[];
  asPath: string;
  nextHop: string;
  /** Errors, RFC 7606 outcomes, and what OPEN / NOTIFICATION / ROUTE-REFRESH carry. */
  details: string;
  severity: Severity;
}

const SEGMENT_BRACKETS: Record<string, [string, string]> = {
  AS_SEQUENCE: ["", ""],
  AS_SET: ["{", "}"],
  AS_CONFED_SEQUENCE: ["(", ")"],
  AS_CONFED_SET: ["[", "]"],
};

/** "65001 65002 {65003 65004}", the usual notation (confederation segments in () and []). */
export function formatAsPath(path: AsPathSegment[] | undefined): string {
  if (!path) return "";
  return path
    .map((seg) => {
      const [open, close] = SEGMENT_BRACKETS[seg.type] ?? [`${seg.type}:`, ""];
      return `${open}${seg.asns.join(" ")}${close}`;
    })
    .join(" ");
}

/** "3/11 UPDATE Message Error / Malformed AS_PATH". */
export function formatCode(code: number, subcode: number): string {
  return `${code}/${subcode} ${codeName(code)} / ${subcodeName(code, subcode)}`;
}

function formatError(what: string, e: CodecError): string {
  return `${what} ${formatCode(e.code, e.subcode)}: ${e.message}`;
}

function openDetails(m: DecodedMessage): string {
  const caps = (m.capabilities ?? []).map((c) => (typeof c.family === "string" ? `${c.name} ${c.family}` : c.name));
  return `AS ${m.asn} id ${m.routerId} hold ${m.holdTime}s${caps.length ? `; ${caps.join(", ")}` : ""}`;
}

function notificationDetails(m: DecodedMessage): string {
  const text = formatCode(m.code ?? 0, m.subcode ?? 0);
  return m.communication !== undefined ? `${text}: "${m.communication}"` : text;
}

/** "time" is an ISO timestamp: the table shows the time of day, the full value goes in the title. */
export function shortTime(iso: string): string {
  const t = iso.indexOf("T");
  return t >= 0 ? iso.slice(t + 1).replace(/Z$/, "") : iso;
}

export function summarize(obj: Record<string, unknown>): RowSummary {
  const m = obj as DecodedMessage & { flow?: string; time?: string };
  const attrs = m.attributes ?? {};
  const notes: string[] = [];
  let severity: Severity = "ok";
  if (m.error) {
    notes.push(formatError("NOTIFICATION", m.error));
    severity = "error";
  }
  if (m.treatAsWithdraw) {
    notes.push(formatError("treat-as-withdraw", m.treatAsWithdraw));
    if (severity === "ok") severity = "warning";
  }
  if (m.discardedAttributes?.length) {
    notes.push(`attribute discard: ${m.discardedAttributes.map((d) => d.message).join("; ")}`);
    if (severity === "ok") severity = "warning";
  }
  if (m.type === "OPEN" && !m.error) notes.push(openDetails(m));
  if (m.type === "NOTIFICATION" && !m.error) notes.push(notificationDetails(m));
  if (m.type === "ROUTE-REFRESH" && !m.error) notes.push(`afi ${m.afi} safi ${m.safi} subtype ${m.subtype}`);
  if (m.type === "UPDATE" && m.endOfRib) notes.push(`End-of-RIB ${m.endOfRib}`);
  if (m.type === "UPDATE" && !m.error && attrs.communities?.length) notes.push(`communities ${attrs.communities.join(" ")}`);
  return {
    time: m.time ?? "",
    flow: m.flow ?? "",
    type: m.type ?? (m.error ? "(malformed)" : ""),
    length: m.length !== undefined ? String(m.length) : "",
    nlri: m.nlri ?? [],
    withdrawn: m.withdrawn ?? [],
    asPath: formatAsPath(attrs.asPath),
    nextHop: Array.isArray(attrs.nextHop) ? attrs.nextHop.join(", ") : (attrs.nextHop ?? ""),
    details: notes.join(" | "),
    severity,
  };
}
