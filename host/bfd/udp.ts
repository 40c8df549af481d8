// BFD's UDP sockets (RFC 5881): the receive socket on port 3784 that lets
// only TTL/hop limit 255 through (checked by a kernel filter, so a packet from
// further away never reaches us: GTSM, RFC 5881 5), and one transmit socket
// per session, TTL 255, from a source port in 49152-65535 (RFC 5881 4).
// Opening is synchronous, so a port in use is an error of the call that asked.
import dgram from "node:dgram";
import { AF_INET, AF_INET6, type Family, SOCK_DGRAM, SyscallError, acceptOnlyTtl255, bindSocket, closeSocket, openSocket, setTtl } from "../sockopt/sockets.ts";

export const BFD_PORT = 3784;
const SOURCE_PORT_MIN = 49152;
const SOURCE_PORT_MAX = 65535;
const EADDRINUSE = 98;

function anyAddress(family: Family): string {
  return family === AF_INET ? "0.0.0.0" : "::";
}

/**
 * Wraps a bound fd in a dgram socket (both runtimes accept `bind({fd})`); it
 * can send at once (dgram queues until the bind completes).
 */
function adopt(family: Family, fd: number): dgram.Socket {
  const socket = dgram.createSocket({ type: family === AF_INET ? "udp4" : "udp6" });
  socket.bind({ fd });
  return socket;
}

/** The receive socket of a family on `port` (all addresses), TTL 255 only. */
export function openReceiveSocket(family: Family, port: number): dgram.Socket {
  const fd = openSocket(family, SOCK_DGRAM, true);
  try {
    acceptOnlyTtl255(fd, family);
    bindSocket(fd, anyAddress(family), port);
  } catch (e) {
    closeSocket(fd);
    if (e instanceof SyscallError && e.errno === EADDRINUSE) {
      throw new Error(`BFD: UDP port ${port} (${family === AF_INET ? "IPv4" : "IPv6"}) is in use: another BFD daemon (e.g. FRR's bfdd) on this host?`);
    }
    throw new Error(`BFD: receive socket on port ${port}: ${(e as Error).message}`);
  }
  return adopt(family, fd);
}

/** A session's transmit socket: TTL 255, bound to `local` (or any address) and a free port in 49152-65535. */
export function openTransmitSocket(family: Family, peer: string, local: string | undefined): dgram.Socket {
  const fd = openSocket(family, SOCK_DGRAM, family === AF_INET6);
  try {
    setTtl(fd, peer, 255);
    for (let attempt = 0; ; attempt++) {
      const port = SOURCE_PORT_MIN + Math.floor(Math.random() * (SOURCE_PORT_MAX - SOURCE_PORT_MIN + 1));
      try {
        bindSocket(fd, local ?? anyAddress(family), port);
        break;
      } catch (e) {
        if (!(e instanceof SyscallError && e.errno === EADDRINUSE) || attempt >= 50) throw e;
      }
    }
  } catch (e) {
    closeSocket(fd);
    throw new Error(`BFD: transmit socket to ${peer}${local ? ` from ${local}` : ""}: ${(e as Error).message}`);
  }
  return adopt(family, fd);
}
