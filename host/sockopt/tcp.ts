// Outgoing TCP connections whose socket options must be set before the SYN
// (TCP MD5 signs the SYN; a TTL limit applies to it), and the same options on
// listeners and accepted connections. The socket is made here; the runtime
// adopts it: Node connects it itself (`new net.Socket({fd}).connect()`), Bun
// cannot connect an fd it adopts, so the connect runs here and Bun adopts the
// connected socket (`socket.connect({fd})`, which emits `connect`).
import * as net from "node:net";
import { AF_INET, AF_INET6, SOCK_STREAM, SyscallError, bindSocket, check, closeSocket, familyOf, fdOf, openSocket, setMd5Key, setTtl, socketError, sockaddr } from "./sockets.ts";
import { syscalls } from "./syscalls.ts";

export interface DialOptions {
  host: string;
  port: number;
  localAddress?: string;
  /** TTL / hop limit of every packet, the SYN included. */
  ttl?: number;
  /** TCP MD5 key (RFC 2385). */
  password?: string;
  /** Each read: the buffer to fill (Node reads into it; Bun hands its own chunk to `onData`). */
  readBuffer: () => Uint8Array;
  onData: (n: number, buf: Uint8Array) => void;
}

const EINPROGRESS = 115;
const POLLOUT = 4;
const POLLERR = 8;
const POLLHUP = 16;
/** How often a connect in progress is checked under Bun. */
const CONNECT_POLL_MS = 5;

/**
 * A connection with the options set before the SYN. Emits `connect`, `error`
 * and `close` like `net.connect`; destroying it before it connects closes the
 * socket underneath.
 */
export function dialTcp(o: DialOptions): net.Socket {
  const fd = openSocket(familyOf(o.host), SOCK_STREAM);
  try {
    if (o.ttl !== undefined) setTtl(fd, o.host, o.ttl);
    if (o.password) setMd5Key(fd, familyOf(o.host), o.host, o.password);
    if (o.localAddress) bindSocket(fd, o.localAddress, 0);
  } catch (e) {
    closeSocket(fd);
    throw e;
  }
  if (!process.versions.bun) {
    const socket = new net.Socket({ fd, readable: true, writable: true, onread: { buffer: o.readBuffer, callback: (n: number, buf: Uint8Array) => (o.onData(n, buf), true) } } as net.SocketConstructorOpts);
    return socket.connect({ host: o.host, port: o.port });
  }
  return connectThenAdopt(fd, o);
}

function connectThenAdopt(fd: number, o: DialOptions): net.Socket {
  const socket = new net.Socket();
  const fail = (err: Error) => {
    closeSocket(fd);
    socket.destroy(err);
  };
  const r = syscalls().connect(fd, sockaddr(o.host, o.port));
  if (r < 0 && -r !== EINPROGRESS) {
    queueMicrotask(() => fail(new SyscallError(`connect ${o.host}:${o.port}`, -r)));
    return socket;
  }
  const poll = () => {
    // Given up on (ended or destroyed) before the connect completed: the fd is still ours.
    if (socket.destroyed || socket.writableEnded) return void closeSocket(fd);
    const ev = check(syscalls().poll(fd, POLLOUT), "poll");
    if (!(ev & (POLLOUT | POLLERR | POLLHUP))) return void setTimeout(poll, CONNECT_POLL_MS);
    const err = socketError(fd);
    if (err) return fail(new SyscallError(`connect ${o.host}:${o.port}`, err));
    socket.on("data", (chunk: Buffer) => o.onData(chunk.length, chunk));
    socket.connect({ fd } as net.SocketConnectOpts); // Bun emits "connect" as it adopts the fd
  };
  setTimeout(poll, 0);
  return socket;
}

/** Sets (or with "" removes) the MD5 key for connections from `peer` on a listening server. */
export function setListenerMd5(server: net.Server, peer: string, key: string): void {
  const addr = server.address();
  if (!addr || typeof addr === "string") return;
  const family = addr.family === "IPv6" || addr.family === (6 as unknown) ? AF_INET6 : AF_INET;
  if (family === AF_INET && familyOf(peer) === AF_INET6) return; // an IPv4 listener never sees this peer
  setMd5Key(fdOf(server), family, peer, key);
}

/** TTL / hop limit of an accepted connection's packets. */
export function setSocketTtl(socket: net.Socket, peer: string, ttl: number): void {
  setTtl(fdOf(socket), peer, ttl);
}
