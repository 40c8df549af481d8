// The inspector page: loads sart.wasm once (the file every other consumer loads, served
// beside this bundle), decodes pasted hex or an opened/dropped pcap, pcapng, MRT or raw BGP
// stream with the same codec and capture modules as `sart decode`, and renders the result.
import { type Core, loadCoreFrom } from "../core/wasm.ts";
import { type DecodeSettings, InputError, decodeBytes, parseHexText } from "./input.ts";
import { MAX_ROWS, MessageView } from "./render.ts";

/** Counters the browser test reads (window.sartInspector): the module must be instantiated once. */
const debug = { coreLoads: 0, decodes: 0 };
(globalThis as Record<string, unknown>).sartInspector = debug;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`inspector page: element #${id} is missing`);
  return el as T;
}

const status = byId<HTMLElement>("status");
const hexInput = byId<HTMLTextAreaElement>("hex");
const fileInput = byId<HTMLInputElement>("file");
const view = new MessageView(byId("messages-body"), byId("detail-title"), byId("detail-problem"), byId("detail-json"));
const options = {
  as4: byId<HTMLInputElement>("opt-as4"),
  addPathV4: byId<HTMLInputElement>("opt-addpath-v4"),
  addPathV6: byId<HTMLInputElement>("opt-addpath-v6"),
  extendedMessage: byId<HTMLInputElement>("opt-extended"),
  port: byId<HTMLInputElement>("opt-port"),
};

function setStatus(text: string, kind: "info" | "warning" | "error" = "info"): void {
  status.textContent = text;
  status.className = kind;
}

function settings(): DecodeSettings {
  const port = Number(options.port.value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InputError(`capture port '${options.port.value}' is not a TCP port (1-65535)`);
  const addPath = [];
  if (options.addPathV4.checked) addPath.push("ipv4-unicast");
  if (options.addPathV6.checked) addPath.push("ipv6-unicast");
  return { codec: { as4: options.as4.checked, addPath, extendedMessage: options.extendedMessage.checked }, port };
}

let core: Core | undefined;
/** The last input and the settings it was decoded with: decoded again when an option changes. */
let last: { bytes: Uint8Array; name: string; settings?: string } | undefined;

function decode(bytes: Uint8Array, name: string): void {
  last = { bytes, name };
  if (!core) return; // decoded once the module is loaded
  try {
    const current = settings();
    last.settings = JSON.stringify(current);
    const result = decodeBytes(core, bytes, current);
    debug.decodes++;
    view.show(result.messages);
    const n = result.messages.length;
    const broken = result.messages.filter((m) => m.error !== undefined).length;
    const flagged = result.messages.filter((m) => m.treatAsWithdraw !== undefined || m.discardedAttributes !== undefined).length;
    const parts = [`${n} message${n === 1 ? "" : "s"} from ${name} (${result.format}, ${bytes.length} bytes)`];
    if (broken) parts.push(`${broken} malformed`);
    if (flagged) parts.push(`${flagged} with RFC 7606 outcomes`);
    if (n > MAX_ROWS) parts.push(`table shows the first ${MAX_ROWS}`);
    if (result.skipped) parts.push(`records without a BGP message skipped: ${result.skipped}`);
    if (result.problem) parts.push(`${result.format === "mrt" ? "MRT" : "capture"} problem: ${result.problem}`);
    if (result.hint) parts.push(result.hint);
    setStatus(parts.join(" · "), broken || result.problem ? "error" : flagged || result.hint ? "warning" : "info");
  } catch (err) {
    // The codec reports malformed input as messages; what lands here is a bad option, or the
    // core failing (e.g. out of memory on a huge file): say so instead of a stale status.
    if (!(err instanceof InputError)) console.error(err);
    setStatus(err instanceof InputError ? err.message : `decoding ${name} failed: ${(err as Error).message}`, "error");
  }
}

function decodeHex(): void {
  try {
    decode(parseHexText(hexInput.value), "pasted hex");
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    setStatus(err.message, "error");
  }
}

async function decodeFile(file: File): Promise<void> {
  setStatus(`reading ${file.name}…`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (err) {
    setStatus(`cannot read ${file.name}: ${(err as Error).message}`, "error");
    return;
  }
  decode(bytes, file.name);
}

byId("decode-hex").addEventListener("click", decodeHex);
hexInput.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) decodeHex();
});
fileInput.addEventListener("change", () => {
  const file = fileInput.files?.[0];
  if (file) void decodeFile(file);
  fileInput.value = ""; // opening the same file again fires change again
});
function optionChanged(): void {
  let current: string;
  try {
    current = JSON.stringify(settings());
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    setStatus(err.message, "error");
    return;
  }
  // A change event also fires on blur after typing the same value back: keep the table (and selection) then.
  if (last && current !== last.settings) decode(last.bytes, last.name);
}
for (const input of Object.values(options)) input.addEventListener("change", optionChanged);
document.addEventListener("dragover", (ev) => {
  ev.preventDefault();
  document.body.classList.add("dragging");
});
document.addEventListener("dragleave", (ev) => {
  if (ev.relatedTarget === null) document.body.classList.remove("dragging");
});
document.addEventListener("drop", (ev) => {
  ev.preventDefault();
  document.body.classList.remove("dragging");
  const file = ev.dataTransfer?.files[0];
  if (file) void decodeFile(file);
});

async function start(): Promise<void> {
  try {
    debug.coreLoads++;
    core = await loadCoreFrom(new URL("sart.wasm", document.baseURI));
  } catch (err) {
    setStatus(`cannot load sart.wasm: ${(err as Error).message}`, "error");
    document.body.dataset.state = "error";
    return;
  }
  document.body.dataset.state = "ready";
  if (last) decode(last.bytes, last.name);
  else setStatus("ready: paste hex, open a file, or drop a pcap / pcapng / MRT file / raw BGP stream on the page");
}

void start();
