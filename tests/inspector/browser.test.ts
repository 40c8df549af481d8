// The inspector page in a real browser (Debian's Chromium through playwright-core): built
// into a temp dir, served from 127.0.0.1, it must render exactly what decodeMessages /
// `sart decode` produce, for pasted hex, opened and dropped captures, and malformed input,
// with sart.wasm fetched and instantiated once. Requests off loopback are blocked.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { buildInspector } from "../../scripts/build-inspector.ts";
import { decodeCapture } from "../../host/capture/bgp-capture.ts";
import { type DecodedMessage, decodeMessages, encodeMessage } from "../../host/core/codec.ts";
import { nodeCore } from "../../host/core/node.ts";
import { decodeBytes } from "../../host/inspector/input.ts";
import { bgp4mp, record } from "./mrt-builder.ts";
import { type StaticServer, serveDirectory } from "./static-server.ts";

const ROOT = join(import.meta.dir, "..", "..");
const PCAPS = join(ROOT, "tests", "fixtures", "pcap");
const SART = join(ROOT, "build", "bin", "sart");
const CHROMIUM_ARGS = [
  "--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

type Msg = Record<string, any>;

const tmp = mkdtempSync(join(tmpdir(), "sart-inspector-test-"));
let server: StaticServer | undefined;
let browser: Browser | undefined;
let page: Page;
const blocked: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  const site = join(tmp, "site");
  await buildInspector(site);
  server = await serveDirectory(site);
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, timeout: 30_000 });
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === "http:" && LOOPBACK.has(url.hostname)) return route.continue();
    blocked.push(url.href);
    return route.abort("blockedbyclient");
  });
  // Counts every way a page can instantiate a module, independently of the page's own counter.
  await context.addInitScript(() => {
    const counts = { instantiate: 0, instantiateStreaming: 0, Instance: 0 };
    (window as any).wasmCounts = counts;
    const W = WebAssembly as any;
    const instantiate = W.instantiate;
    W.instantiate = function (...a: unknown[]) { counts.instantiate++; return instantiate.apply(this, a); };
    const streaming = W.instantiateStreaming;
    W.instantiateStreaming = function (...a: unknown[]) { counts.instantiateStreaming++; return streaming.apply(this, a); };
    W.Instance = new Proxy(W.Instance, { construct(t, a, n) { counts.Instance++; return Reflect.construct(t, a, n); } });
  });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on("pageerror", (err) => pageErrors.push(String(err)));
  await page.goto(server.url);
  await page.waitForSelector("body[data-state=ready]");
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** INSPECTOR_SCREENSHOT=/tmp/inspector saves /tmp/inspector-<what>.png, to look at the page. */
async function screenshot(what: string): Promise<void> {
  if (process.env.INSPECTOR_SCREENSHOT) await page.screenshot({ path: `${process.env.INSPECTOR_SCREENSHOT}-${what}.png` });
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function message(type: number, body: number[]): Uint8Array {
  const len = 19 + body.length;
  return new Uint8Array([...Array(16).fill(0xff), len >> 8, len & 0xff, type, ...body]);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(parts.flatMap((p) => [...p]));
}

/** `sart decode` as a user runs it (build/bin/sart, from `make build`). */
function sartDecode(args: string[]): Msg[] {
  const r = spawnSync(SART, ["decode", ...args], { encoding: "utf8", timeout: 30_000 });
  if (r.error) throw r.error;
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

async function rowCount(): Promise<number> {
  return page.locator("#messages-body tr").count();
}

interface RenderedRow {
  className: string;
  selected: boolean;
  /** Cell text by column (data-col), and the cell's title where it has one. */
  text: Record<string, string>;
  title: Record<string, string>;
}

/** One table row as rendered, read in one round trip. */
async function row(index: number): Promise<RenderedRow> {
  return page.evaluate((i) => {
    const tr = document.querySelectorAll<HTMLTableRowElement>("#messages-body tr")[i];
    const text: Record<string, string> = {};
    const title: Record<string, string> = {};
    for (const td of Array.from(tr.cells)) {
      text[td.dataset.col!] = td.textContent!;
      if (td.title) title[td.dataset.col!] = td.title;
    }
    return { className: tr.className, selected: tr.getAttribute("aria-selected") === "true", text, title };
  }, index);
}

/** Selects a row by clicking it and returns the detail pane's JSON. */
async function detailOf(row: number): Promise<Msg> {
  await page.locator(`#messages-body tr:nth-child(${row + 1})`).click();
  await expect(page.locator(`#messages-body tr:nth-child(${row + 1})`).getAttribute("aria-selected")).resolves.toBe("true");
  return JSON.parse((await page.locator("#detail-json").textContent()) ?? "");
}

async function pasteHex(text: string): Promise<void> {
  await page.fill("#hex", text);
  await page.click("#decode-hex");
}

async function setPort(port: number): Promise<void> {
  await page.fill("#opt-port", String(port));
  await page.dispatchEvent("#opt-port", "change");
}

/** Every row's detail JSON, selecting the rows in turn by a click event in the page (one round trip). */
async function allDetails(): Promise<Msg[]> {
  const texts = await page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>("#messages-body tr"), (tr) => {
      tr.click();
      return document.getElementById("detail-json")!.textContent!;
    }),
  );
  return texts.map((t) => JSON.parse(t));
}

async function openFile(name: string): Promise<void> {
  await page.setInputFiles("#file", join(PCAPS, name));
  await page.waitForFunction((n) => document.getElementById("status")!.textContent!.includes(`from ${n}`), name);
}

test("pasted hex UPDATE: the table and the detail JSON match decodeMessages", async () => {
  const update: DecodedMessage = {
    type: "UPDATE",
    withdrawn: ["203.0.113.128/25"],
    nlri: ["198.51.100.0/24", "203.0.113.0/25"],
    attributes: {
      origin: "IGP",
      asPath: [{ type: "AS_SEQUENCE", asns: [65001, 4200000001] }, { type: "AS_SET", asns: [65010, 65011] }],
      nextHop: "192.0.2.1",
      med: 5,
      communities: ["65001:100"],
    },
  };
  const bytes = concat(encodeMessage(update), message(4, []));
  const expected = decodeMessages(bytes) as Msg[];
  expect(expected.map((m) => m.type)).toEqual(["UPDATE", "KEEPALIVE"]);
  expect(expected[0].nlri).toEqual(update.nlri);

  // As a user pastes it: one message a line, with a 0x prefix and byte separators.
  await pasteHex(`0x${hex(bytes.subarray(0, expected[0].length))}\n${hex(bytes.subarray(expected[0].length)).replace(/(..)/g, "$1 ")}`);
  await page.waitForFunction(() => document.getElementById("status")!.textContent!.startsWith("2 messages from pasted hex"));
  expect(await rowCount()).toBe(2);
  const first = await row(0);
  expect(first.text.type).toBe("UPDATE");
  expect(first.text.length).toBe(String(expected[0].length));
  // A count badge, then the prefixes; the title lists them all.
  expect(first.text.nlri).toBe(`${expected[0].nlri.length}${expected[0].nlri.join(" ")}`);
  expect(first.title.nlri).toBe(expected[0].nlri.join("\n"));
  expect(first.text.withdrawn).toBe(`1${expected[0].withdrawn[0]}`);
  expect(first.text.asPath).toBe("65001 4200000001 {65010 65011}");
  expect(first.text.nextHop).toBe(expected[0].attributes.nextHop);
  expect(first.text.details).toBe("communities 65001:100");
  expect((await row(1)).text.type).toBe("KEEPALIVE");
  expect(await detailOf(0)).toEqual(expected[0]);
  expect(await detailOf(1)).toEqual(expected[1]);
});

test("a pcap through the file input renders every message `sart decode` prints, with the same JSON", async () => {
  const name = "gobgp-bird.pcap";
  const cli = sartDecode(["--file", join(PCAPS, name)]);
  const inProcess = decodeCapture(readFileSync(join(PCAPS, name)), (b, o) => decodeMessages(b, o) as Msg[], { port: 179, defaults: { as4: true } });
  expect(inProcess.messages).toEqual(cli);
  expect(cli.length).toBeGreaterThan(10);

  await setPort(179);
  await openFile(name);
  expect(await rowCount()).toBe(cli.length);
  expect(await allDetails()).toEqual(cli);
  await screenshot("capture");
  const firstUpdate = cli.findIndex((m) => m.type === "UPDATE" && m.nlri?.length);
  const shown = await row(firstUpdate);
  expect(shown.text.flow).toBe(cli[firstUpdate].flow);
  expect(shown.text.time).toBe(cli[firstUpdate].time.slice(11, -1));
  expect(shown.title.nlri).toBe(cli[firstUpdate].nlri.join("\n"));
  // End-of-RIB markers are labelled in the row, with their family.
  const eor = cli.findIndex((m) => m.endOfRib === "ipv6-unicast");
  expect(eor).toBeGreaterThan(0);
  expect((await row(eor)).text.details).toBe("End-of-RIB ipv6-unicast");
});

test("a pcapng on another port after changing the capture port option", async () => {
  const name = "gobgp-exabgp.pcapng";
  const cli = sartDecode(["--port", "1790", "--file", join(PCAPS, name)]);
  expect(cli.length).toBeGreaterThan(5);
  await setPort(1790);
  await openFile(name);
  expect(await rowCount()).toBe(cli.length);
  const update = cli.findIndex((m) => m.type === "UPDATE" && m.nlri?.length);
  expect(await detailOf(update)).toEqual(cli[update]);
  await setPort(179);
  await page.waitForFunction(() => document.getElementById("status")!.textContent!.startsWith("0 messages"));
  expect(await rowCount()).toBe(0);
  // Not just "0 messages": the page says which port carried the data.
  expect(await page.locator("#status").textContent()).toContain("no TCP data on port 179; TCP data went over port 1790 (3 connections, 1006 bytes): set the capture port to 1790");
  expect(await page.locator("#status").getAttribute("class")).toBe("warning");
});

test("a capture dropped on the page is decoded", async () => {
  const name = "bird-exabgp.pcap";
  const cli = sartDecode(["--file", join(PCAPS, name)]);
  const data = [...readFileSync(join(PCAPS, name))];
  await setPort(179);
  const transfer = await page.evaluateHandle(({ bytes, fileName }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], fileName));
    return dt;
  }, { bytes: data, fileName: name });
  await page.dispatchEvent("body", "drop", { dataTransfer: transfer });
  await page.waitForFunction((n) => document.getElementById("status")!.textContent!.includes(`from ${n}`), name);
  expect(await rowCount()).toBe(cli.length);
  const notification = cli.findIndex((m) => m.type === "NOTIFICATION");
  expect(await detailOf(notification)).toEqual(cli[notification]);
  expect((await row(notification)).text.details).toContain(`${cli[notification].code}/${cli[notification].subcode} Cease`);
});

test("an MRT file (BGP4MP records) renders its messages with peer flows", async () => {
  const update = encodeMessage({ type: "UPDATE", nlri: ["198.51.100.0/24"], attributes: { origin: "IGP", asPath: [{ type: "AS_SEQUENCE", asns: [4200000002] }], nextHop: "192.0.2.2" } });
  const file = new Uint8Array([
    ...record(13, 1, [0, 0, 0, 0]),
    ...record(17, 4, bgp4mp(true, 4200000002, 65001, [192, 0, 2, 2], [192, 0, 2, 1], update), 250000),
    ...record(16, 7, bgp4mp(true, 4200000002, 65001, [192, 0, 2, 2], [192, 0, 2, 1], message(4, []))),
  ]);
  const expected = decodeBytes(nodeCore(), file, { codec: { as4: true }, port: 179 });
  expect(expected.messages).toHaveLength(2);
  await page.setInputFiles("#file", { name: "updates.mrt", mimeType: "application/octet-stream", buffer: Buffer.from(file) });
  await page.waitForFunction(() => document.getElementById("status")!.textContent!.startsWith("2 messages from updates.mrt (mrt"));
  expect(await page.locator("#status").textContent()).toContain("records without a BGP message skipped: 1 TABLE_DUMP_V2");
  expect(await rowCount()).toBe(2);
  const first = await row(0);
  expect([first.text.flow, first.text.time, first.text.asPath]).toEqual(["192.0.2.2 AS4200000002 -> 192.0.2.1 AS65001", "06:33:18.250000", "4200000002"]);
  expect(await allDetails()).toEqual(expected.messages);
});

test("malformed messages are marked with their NOTIFICATION code/subcode", async () => {
  // Withdrawn Routes Length (5) runs past the message: UPDATE Message Error / Malformed Attribute List.
  const badUpdate = message(2, [0x00, 0x05, 0x00, 0x00]);
  // ORIGIN 7 (undefined): RFC 7606 treat-as-withdraw, not a session reset.
  const attrs = [0x40, 1, 1, 7, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1];
  const badOrigin = message(2, [0, 0, 0, attrs.length, ...attrs, 24, 198, 51, 100]);
  const bytes = concat(message(4, []), badUpdate, badOrigin);
  const expected = decodeMessages(bytes) as Msg[];
  expect(expected).toHaveLength(3);
  const { code, subcode } = expected[1].error;
  expect([code, subcode]).toEqual([3, 1]);
  expect(expected[2].treatAsWithdraw).toBeDefined();

  await pasteHex(hex(bytes));
  await page.waitForFunction(() => document.getElementById("status")!.textContent!.startsWith("3 messages from pasted hex"));
  expect(await page.locator("#status").getAttribute("class")).toBe("error");
  expect(await page.locator("#status").textContent()).toContain("1 malformed");
  const bad = await row(1);
  expect(bad.className).toBe("error");
  expect(bad.title.details).toBe(`NOTIFICATION 3/1 UPDATE Message Error / Malformed Attribute List: ${expected[1].error.message}`);
  // The first problem is selected on its own.
  expect(bad.selected).toBe(true);
  expect(JSON.parse((await page.locator("#detail-json").textContent())!)).toEqual(expected[1]);
  expect(await page.locator("#detail-problem").textContent()).toBe(bad.title.details);
  expect(await page.locator("#detail-problem").isVisible()).toBe(true);
  const t = expected[2].treatAsWithdraw;
  const withdrawn = await row(2);
  expect(withdrawn.className).toBe("warning");
  expect(withdrawn.text.details).toBe(`treat-as-withdraw ${t.code}/${t.subcode} UPDATE Message Error / Invalid ORIGIN Attribute: ${t.message}`);
  expect(await detailOf(2)).toEqual(expected[2]);

  await screenshot("malformed");

  await pasteHex("ff ff zz");
  await page.waitForFunction(() => document.getElementById("status")!.textContent!.includes("is not a hex digit"));
});

test("a long raw stream: the table stops at 2000 rows and says so; arrow keys move the selection", async () => {
  const keepalives = 2002;
  const bytes = concat(...Array.from({ length: keepalives }, () => message(4, [])));
  await page.setInputFiles("#file", { name: "keepalives.bin", mimeType: "application/octet-stream", buffer: Buffer.from(bytes) });
  await page.waitForFunction(() => document.getElementById("status")!.textContent!.startsWith("2002 messages from keepalives.bin (raw"));
  expect(await page.locator("#status").textContent()).toContain("table shows the first 2000");
  expect(await rowCount()).toBe(2000);
  expect((await row(0)).selected).toBe(true);
  expect(await page.locator("#detail-problem").isVisible()).toBe(false);
  await page.focus("#messages");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowUp");
  expect((await row(1)).selected).toBe(true);
  expect(await page.locator("#detail-title").textContent()).toBe("Message 2 of 2002: KEEPALIVE");
});

test("sart.wasm was fetched and instantiated once, nothing left loopback, no page errors", async () => {
  // One more decode on the same page, so this holds whichever tests ran before.
  await pasteHex("ffffffffffffffffffffffffffffffff001304");
  await page.waitForFunction(() => document.getElementById("status")!.textContent!.startsWith("1 message from pasted hex"));
  expect(server!.requests.get("/sart.wasm")).toBe(1);
  const counts = await page.evaluate(() => ({ page: (window as any).sartInspector, wasm: (window as any).wasmCounts }));
  expect(counts.page.coreLoads).toBe(1);
  expect(counts.page.decodes).toBeGreaterThanOrEqual(1);
  expect(counts.wasm.instantiate + counts.wasm.instantiateStreaming + counts.wasm.Instance).toBe(1);
  expect(blocked).toEqual([]);
  expect(pageErrors).toEqual([]);
});
