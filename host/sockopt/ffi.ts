// The sockopt calls under Bun, through bun:ffi into libc (no build step). The
// same contract as the Node addon (sockopt.c): results, or -errno on failure.
// bun:ffi comes in as a parameter, so the Node bundle never imports it.
import type { Syscalls } from "./syscalls.ts";

type BunFfi = typeof import("bun:ffi");

const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_ATTACH_FILTER = 26;
const POLLIN = 1;
const EAGAIN = 11;
const EINTR = 4;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;

/** glibc first; musl names its libc by architecture. */
function libcCandidates(): string[] {
  const arch = process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? "aarch64" : process.arch;
  return ["libc.so.6", `libc.musl-${arch}.so.1`];
}

export function ffiSyscalls(ffi: BunFfi): Syscalls {
  const { FFIType: T, dlopen, ptr, read } = ffi;
  const symbols = {
    socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
    setsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.u32], returns: T.i32 },
    getsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.ptr], returns: T.i32 },
    bind: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
    connect: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
    poll: { args: [T.ptr, T.u64, T.i32], returns: T.i32 },
    close: { args: [T.i32], returns: T.i32 },
    setns: { args: [T.i32, T.i32], returns: T.i32 },
    // ssize_t read as its low 32 bits: lengths here are far below 2 GiB, and -1 stays -1.
    send: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i32 },
    recv: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i32 },
    __errno_location: { args: [], returns: T.ptr },
  } as const;
  let lib: ReturnType<typeof dlopen<typeof symbols>> | undefined;
  const tried: string[] = [];
  for (const name of libcCandidates()) {
    try {
      lib = dlopen(name, symbols);
      break;
    } catch (e) {
      tried.push(`${name}: ${(e as Error).message}`);
    }
  }
  if (!lib) throw new Error(`cannot load libc through bun:ffi (${tried.join("; ")})`);
  const c = lib.symbols;
  // errno is thread-local and nothing runs on this thread between the call and this read.
  const ret = (r: number): number => (r < 0 ? -read.i32(c.__errno_location()!, 0) : r);
  const poll = (fd: number, events: number, timeoutMs: number): number => {
    // struct pollfd { int fd; short events; short revents; }
    const p = new Int16Array(4);
    new Int32Array(p.buffer, 0, 1)[0] = fd;
    p[2] = events;
    const r = ret(c.poll(ptr(p), 1, timeoutMs));
    return r < 0 ? r : p[3] & 0xffff;
  };
  return {
    socket: (domain, type, protocol) => ret(c.socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol)),
    setsockopt: (fd, level, name, value) => ret(c.setsockopt(fd, level, name, ptr(value), value.byteLength)),
    getsockopt: (fd, level, name, out) => {
      const len = new Uint32Array([out.byteLength]);
      const r = ret(c.getsockopt(fd, level, name, ptr(out), ptr(len)));
      return r < 0 ? r : len[0];
    },
    bind: (fd, addr) => ret(c.bind(fd, ptr(addr), addr.byteLength)),
    connect: (fd, addr) => ret(c.connect(fd, ptr(addr), addr.byteLength)),
    poll: (fd, events) => poll(fd, events, 0),
    close: (fd) => ret(c.close(fd)),
    attachFilter: (fd, program) => {
      // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (little-endian: len in the low bytes)
      const fprog = new BigUint64Array(2);
      fprog[0] = BigInt(program.byteLength / 8);
      fprog[1] = BigInt(ptr(program));
      return ret(c.setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, ptr(fprog), 16));
    },
    setns: (fd, nstype) => ret(c.setns(fd, nstype)),
    send: (fd, data) => ret(c.send(fd, ptr(data), data.byteLength, MSG_NOSIGNAL)),
    recv: (fd, out, timeoutMs) => {
      // A signal to the process (a child's exit, SIGHUP) ends poll(2) with EINTR whatever
      // SA_RESTART says: wait out the rest of the time.
      const deadline = performance.now() + timeoutMs;
      let ready = poll(fd, POLLIN, timeoutMs);
      while (ready === -EINTR) ready = poll(fd, POLLIN, timeoutMs < 0 ? -1 : Math.max(0, Math.ceil(deadline - performance.now())));
      if (ready < 0) return ready;
      if (ready === 0) return -EAGAIN;
      return ret(c.recv(fd, ptr(out), out.byteLength, MSG_DONTWAIT));
    },
  };
}
