// One call to the agent's CNI server: a JSON line out, a JSON line back, within a time
// limit. An agent that is not there, refuses, hangs up or does not answer in time is
// "try again later" (11), or "not available" (50) for STATUS.
// Under Bun the socket is Bun.connect: loading node:net costs Bun about 40 ms of the
// plugin's start-up (measured, bench/cni); Node loads node:net on demand.
import { bun, CniError, Code, type Command, type WireRequest, type WireResponse } from "./protocol.ts";

/** An open connection, whichever transport made it. */
interface Conversation {
  send(line: string): void;
  close(): void;
}

type Handlers = { onData(text: string): void; onClose(): void; onError(code: string | undefined, message: string): void };

async function open(socket: string, h: Handlers, onOpen: (c: Conversation) => void): Promise<void> {
  if (bun) {
    const decoder = new TextDecoder();
    try {
      await bun.connect({
        unix: socket,
        socket: {
          open: (s: { write(t: string): number; end(): void }) => onOpen({ send: (line) => s.write(line), close: () => s.end() }),
          data: (_s: unknown, d: Uint8Array) => h.onData(decoder.decode(d, { stream: true })),
          close: () => h.onClose(),
          error: (_s: unknown, e: Error & { code?: string }) => h.onError(e.code, e.message),
        },
      });
    } catch (e) {
      h.onError((e as { code?: string }).code, (e as Error).message);
    }
    return;
  }
  const { createConnection } = await import("node:net");
  const conn = createConnection(socket);
  conn.setEncoding("utf8");
  conn.on("connect", () => onOpen({ send: (line) => conn.write(line), close: () => conn.destroy() }));
  conn.on("data", (d: string) => h.onData(d));
  conn.on("error", (e: NodeJS.ErrnoException) => h.onError(e.code, e.message));
  conn.on("close", () => h.onClose());
}

export function callAgent(socket: string, request: WireRequest, timeoutMs: number, command: Command): Promise<WireResponse> {
  const unavailable = (why: string) =>
    new CniError(command === "STATUS" ? Code.NotAvailable : Code.TryAgainLater, `sart agent on ${socket}: ${why}`);
  return new Promise((resolve, reject) => {
    let text = "";
    let settled = false;
    let conversation: Conversation | undefined;
    const finish = (err: CniError | undefined, value?: WireResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conversation?.close();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(unavailable(`no answer within ${timeoutMs / 1000} s (the config's timeout)`)), timeoutMs);
    void open(
      socket,
      {
        onData: (d) => (text += d),
        onError: (code, message) =>
          finish(unavailable(code === "ENOENT" || code === "ECONNREFUSED" ? `not listening (${code}): is the agent running?` : message)),
        onClose: () => {
          const answer = text.trim();
          if (!answer) return finish(unavailable("closed the connection without an answer"));
          try {
            finish(undefined, JSON.parse(answer) as WireResponse);
          } catch {
            finish(unavailable(`answered something that is not JSON: ${answer.slice(0, 200)}`));
          }
        },
      },
      (c) => {
        conversation = c;
        c.send(`${JSON.stringify(request)}\n`);
      },
    );
  });
}
