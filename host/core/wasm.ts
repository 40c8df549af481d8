// Loads build/sart.wasm once per process (Node, Bun or a browser) and keeps
// typed views over its linear memory. The area wrappers beside this file
// (codec.ts, ipam.ts, rib.ts) are the only callers of the raw exports.

export type CoreExports = Record<string, any> & { memory: WebAssembly.Memory };

export class Core {
  private view8 = new Uint8Array(0);
  private viewDV = new DataView(new ArrayBuffer(0));

  constructor(readonly exports: CoreExports) {}

  get memory(): WebAssembly.Memory {
    return this.exports.memory;
  }

  /** A byte view of linear memory, re-created when memory.grow detached the last one. */
  u8(): Uint8Array {
    if (this.view8.buffer !== this.memory.buffer) this.view8 = new Uint8Array(this.memory.buffer);
    return this.view8;
  }

  /** A DataView of linear memory (little-endian reads of core records). */
  dv(): DataView {
    if (this.viewDV.buffer !== this.memory.buffer) this.viewDV = new DataView(this.memory.buffer);
    return this.viewDV;
  }
}

/** AssemblyScript strings are UTF-16LE with their byte length at ptr - 4. */
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return "";
  const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
}

function imports(getMemory: () => WebAssembly.Memory): WebAssembly.Imports {
  return {
    env: {
      abort(msg: number, file: number, line: number, col: number) {
        const m = getMemory();
        throw new Error(`sart.wasm abort: ${readAsString(m, msg)} at ${readAsString(m, file)}:${line}:${col}`);
      },
      trace(msg: number, n: number, ...args: number[]) {
        console.error(`sart.wasm trace: ${readAsString(getMemory(), msg)}`, ...args.slice(0, n));
      },
      seed() {
        return Date.now() * Math.random();
      },
    },
  };
}

/** Instantiates the module from its bytes (synchronously: fine in Node and Bun, and in workers). */
export function instantiateCore(bytes: BufferSource): Core {
  let core: Core | undefined;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports(() => core!.memory));
  core = new Core(instance.exports as CoreExports);
  return core;
}

/** Browser loading: fetches and compiles the module asynchronously. */
export async function loadCoreFrom(url: string | URL): Promise<Core> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`loading sart.wasm from ${url}: HTTP ${res.status}`);
  let core: Core | undefined;
  const { instance } = await WebAssembly.instantiate(await res.arrayBuffer(), imports(() => core!.memory));
  core = new Core(instance.exports as CoreExports);
  return core;
}
