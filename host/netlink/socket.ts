// An rtnetlink socket, in the agent's own network namespace or in another one (a pod's), and
// the requests sart makes through it. Requests are synchronous: the kernel handles an
// rtnetlink request inside send(2), so its answer is queued when send returns and recv only
// waits (bounded) as a safeguard. A socket keeps the namespace it was made in for its whole
// life; to make one in a pod's, the calling thread enters that namespace, opens the socket
// and returns at once, with no JavaScript running in between (setns only moves this thread).
import { closeSync, openSync } from "node:fs";
import { check } from "../sockopt/sockets.ts";
import { syscalls, type Syscalls } from "../sockopt/syscalls.ts";
import {
  getLink,
  newAddress,
  newRoute,
  newVeth,
  NLMSG_DONE,
  NLMSG_ERROR,
  parseError,
  parseLink,
  parseMessages,
  RTM_NEWLINK,
  setLink,
  type LinkInfo,
  type LinkSpec,
  type Received,
  type RouteSpec,
} from "./message.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const CLONE_NEWNET = 0x40000000;
const EAGAIN = 11;
const ETIMEDOUT = 110;
/** The kernel answers within send(2); this only bounds a wait that should never happen. */
const ANSWER_TIMEOUT_MS = 2000;

/** strerror(3)'s words for the errors rtnetlink gives sart's requests; others go by errno name. */
const ERRNO_TEXT: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  3: "No such process",
  12: "Cannot allocate memory",
  16: "Device or resource busy",
  17: "File exists",
  19: "No such device",
  22: "Invalid argument",
  34: "Numerical result out of range",
  95: "Operation not supported",
  99: "Cannot assign requested address",
  101: "Network is unreachable",
  110: "Connection timed out (no answer from the kernel)",
};

/** A refused request: `what` names the request and where it went; `errno` is the kernel's. */
export class NetlinkError extends Error {
  constructor(readonly what: string, readonly errno: number, kernelMessage?: string) {
    super(`${what}: ${ERRNO_TEXT[errno] ?? `errno ${errno}`}${kernelMessage ? ` (${kernelMessage})` : ""}`);
  }
}

let own: number | undefined;

/**
 * The calling thread's own network namespace, opened on first use (before any setns: every
 * entry into another namespace returns here at once) and kept open: the way back, and
 * where a link made in a pod's namespace sends its peer.
 */
export function ownNetnsFd(): number {
  own ??= openSync("/proc/thread-self/ns/net", "r");
  return own;
}

/** A link as requests name it: by name in messages, by index where the kernel needs one. */
export interface Link {
  name: string;
  index: number;
}

export class Rtnl {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly buffer = new Uint8Array(64 * 1024);
  private closed = false;

  private constructor(
    private readonly sys: Syscalls,
    private readonly fd: number,
    /** " in NETNS", or "" for the agent's own namespace: part of every error. */
    readonly where: string,
  ) {}

  /** A socket in the calling thread's namespace, or in the one at the file `netns`. */
  static open(netns?: string): Rtnl {
    const sys = syscalls();
    if (netns === undefined) return new Rtnl(sys, socketHere(sys), "");
    const home = ownNetnsFd();
    let target: number;
    try {
      target = openSync(netns, "r");
    } catch (e) {
      throw new Error(`network namespace ${netns}: ${(e as Error).message}`);
    }
    try {
      check(sys.setns(target, CLONE_NEWNET), `setns into ${netns}`);
      try {
        return new Rtnl(sys, socketHere(sys), ` in ${netns}`);
      } finally {
        const back = sys.setns(home, CLONE_NEWNET);
        if (back < 0) {
          // Every socket this thread made from now on would be the pod's: nothing sane is left to do.
          process.stderr.write(`fatal: cannot return to the agent's network namespace after entering ${netns} (errno ${-back})\n`);
          process.exit(70);
        }
      }
    } finally {
      closeSync(target);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sys.close(this.fd);
  }

  /** Makes a veth pair; either name being taken fails it as a whole. */
  addVeth(link: LinkSpec, peer: LinkSpec): void {
    this.call((seq) => newVeth(seq, link, peer), `RTM_NEWLINK ${link.name} type veth peer ${peer.name}`);
  }

  /** Changes the link named `link.name` (alias, up, MTU, ...). */
  setLink(link: LinkSpec): void {
    this.call((seq) => setLink(seq, link), `RTM_NEWLINK ${link.name}`);
  }

  /** The link named `name`; throws a NetlinkError (ENODEV) when there is none. */
  link(name: string): LinkInfo & Link {
    const answer = this.call((seq) => getLink(seq, name), `RTM_GETLINK ${name}`).find((m) => m.type === RTM_NEWLINK);
    if (!answer) throw new NetlinkError(`RTM_GETLINK ${name}${this.where}`, 19);
    return { ...parseLink(answer.body), name };
  }

  addAddress(dev: Link, address: string, prefixLength: number, o: { nodad?: boolean; scope?: number } = {}): void {
    this.call((seq) => newAddress(seq, { address, prefixLength, index: dev.index, ...o }), `RTM_NEWADDR ${address}/${prefixLength} dev ${dev.name}`);
  }

  addRoute(dev: Link, r: Omit<RouteSpec, "index">): void {
    const what = `RTM_NEWROUTE ${r.dst}/${r.dstLength}${r.via ? ` via ${r.via}` : ""} dev ${dev.name}${r.table ? ` table ${r.table}` : ""}`;
    this.call((seq) => newRoute(seq, { ...r, index: dev.index }), what);
  }

  /**
   * Sends one request (built for its sequence number) and reads until its ACK, error or
   * end of dump; the answers before that (a GETLINK's link) are returned.
   */
  private call(build: (seq: number) => Uint8Array, what: string): Received[] {
    if (this.closed) throw new Error(`${what}${this.where}: netlink socket closed`);
    this.seq = (this.seq + 1) >>> 0;
    const seq = this.seq;
    const sent = this.sys.send(this.fd, build(seq));
    if (sent < 0) throw new NetlinkError(`${what}${this.where} (send)`, -sent);
    const answers: Received[] = [];
    const deadline = performance.now() + ANSWER_TIMEOUT_MS;
    for (;;) {
      const n = this.sys.recv(this.fd, this.buffer, Math.max(0, Math.ceil(deadline - performance.now())));
      if (n === -EAGAIN) {
        if (performance.now() >= deadline) throw new NetlinkError(`${what}${this.where}`, ETIMEDOUT);
        continue;
      }
      if (n < 0) throw new NetlinkError(`${what}${this.where} (recv)`, -n);
      for (const m of parseMessages(this.buffer.subarray(0, n))) {
        if (m.seq !== seq) continue; // the late answer to a request that gave up waiting
        if (m.type === NLMSG_ERROR) {
          const e = parseError(m);
          if (e.errno) throw new NetlinkError(`${what}${this.where}`, e.errno, e.message);
          return answers;
        }
        if (m.type === NLMSG_DONE) return answers;
        answers.push({ ...m, body: m.body.slice() }); // the buffer is reused by the next recv
      }
    }
  }
}

/** A NETLINK_ROUTE socket in the thread's current namespace, with short ACKs and the kernel's error messages. */
function socketHere(sys: Syscalls): number {
  const fd = check(sys.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), "socket(AF_NETLINK, NETLINK_ROUTE)");
  const one = new Uint8Array(Int32Array.of(1).buffer);
  // Both are optional (older kernels): without them errors are longer and plainer.
  sys.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one);
  sys.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one);
  return fd;
}
