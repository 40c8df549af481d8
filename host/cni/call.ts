// One call to the agent's CNI server: a JSON line out, a JSON line back, within a time
// limit. An agent that is not there, refuses, hangs up or does not answer in time is
// "try again later" (11), or "not available" (50) for STATUS.
import { createConnection } from "node:net";
import { CniError, Code, type Command, type WireRequest, type WireResponse } from "./protocol.ts";

export function callAgent(socket: string, request: WireRequest, timeoutMs: number, command: Command): Promise<WireResponse> {
  const unavailable = (why: string) =>
    new CniError(command === "STATUS" ? Code.NotAvailable : Code.TryAgainLater, `sart agent on ${socket}: ${why}`);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const conn = createConnection(socket);
    const finish = (err: CniError | undefined, value?: WireResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(unavailable(`no answer within ${timeoutMs / 1000} s (the config's timeout)`)), timeoutMs);
    conn.on("connect", () => conn.write(`${JSON.stringify(request)}\n`));
    conn.on("data", (d: Buffer) => chunks.push(d));
    conn.on("error", (e: NodeJS.ErrnoException) =>
      finish(unavailable(e.code === "ENOENT" || e.code === "ECONNREFUSED" ? `not listening (${e.code}): is the agent running?` : e.message)),
    );
    conn.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8").trim();
      if (!text) return finish(unavailable("closed the connection without an answer"));
      try {
        finish(undefined, JSON.parse(text) as WireResponse);
      } catch {
        finish(unavailable(`answered something that is not JSON: ${text.slice(0, 200)}`));
      }
    });
  });
}
