// Which backend makes the socket calls: bun:ffi under Bun, the sart-sockopt
// Node-API addon under Node (build/sart-sockopt.node, built by `make build`
// when Node's headers are there). Without one, the features that need them
// (TCP MD5, TTL, BFD) are refused with `unavailable()`'s reason, and the CNI
// builds pods' networks with `ip` instead of netlink (host/netlink).
import { createRequire } from "node:module";
import { locateBuildFile } from "../core/node.ts";
import { ffiSyscalls } from "./ffi.ts";

/** Raw calls: each returns the call's result or -errno. Sockets come non-blocking and close-on-exec. */
export interface Syscalls {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array): number;
  /** Fills `out`; returns the option's length. */
  getsockopt(fd: number, level: number, name: number, out: Uint8Array): number;
  bind(fd: number, sockaddr: Uint8Array): number;
  connect(fd: number, sockaddr: Uint8Array): number;
  /** poll(2) on one fd without waiting: the revents. */
  poll(fd: number, events: number): number;
  close(fd: number): number;
  /** SO_ATTACH_FILTER with a classic BPF program (8 bytes per instruction). */
  attachFilter(fd: number, program: Uint8Array): number;
  /** setns(2): moves the calling thread into the namespace `fd` refers to. */
  setns(fd: number, nstype: number): number;
  /** send(2) of all of `data`: the bytes sent. */
  send(fd: number, data: Uint8Array): number;
  /** Waits up to `timeoutMs` for `fd` to be readable, then one recv(2) into `out`: its length (-EAGAIN when nothing came). */
  recv(fd: number, out: Uint8Array, timeoutMs: number): number;
}

export const ADDON_FILE = "sart-sockopt.node";

/** Every call of Syscalls: an addon built from older sources lacks some. */
const CALLS = ["socket", "setsockopt", "getsockopt", "bind", "connect", "poll", "close", "attachFilter", "setns", "send", "recv"] as const satisfies readonly (keyof Syscalls)[];

let loaded: { sys?: Syscalls; error?: string } | undefined;

function load(): { sys?: Syscalls; error?: string } {
  const require = createRequire(import.meta.url);
  if (process.versions.bun) {
    try {
      return { sys: ffiSyscalls(require("bun:ffi")) };
    } catch (e) {
      return { error: `bun:ffi: ${(e as Error).message}` };
    }
  }
  let file: string;
  try {
    file = locateBuildFile(ADDON_FILE, "SART_SOCKOPT");
  } catch (e) {
    return { error: `Node needs the ${ADDON_FILE} addon for this (${(e as Error).message}; \`make build\` builds it when Node's headers are installed), or run under Bun` };
  }
  let addon: Partial<Syscalls>;
  try {
    addon = require(file) as Partial<Syscalls>;
  } catch (e) {
    return { error: `cannot load ${file}: ${(e as Error).message}` };
  }
  const missing = CALLS.filter((c) => typeof addon[c] !== "function");
  if (missing.length) return { error: `${file} lacks ${missing.join(", ")}: it was built from older sources (\`make build\` rebuilds it)` };
  return { sys: addon as Syscalls };
}

/** The backend, loaded on first use; throws with the reason when this runtime has none. */
export function syscalls(): Syscalls {
  loaded ??= load();
  if (!loaded.sys) throw new Error(`socket options unavailable: ${loaded.error}`);
  return loaded.sys;
}

/** Why socket options cannot be set in this process, or undefined when they can. */
export function unavailable(): string | undefined {
  loaded ??= load();
  return loaded.error;
}
