// The watch stream's line splitter (host/kube/kube-http.ts): lines cut from bytes, whatever
// the chunking, multi-byte characters and lines straddling chunks included.
import { expect, test } from "bun:test";
import { LineSplitter } from "../../host/kube/kube-http.ts";

function split(chunks: Uint8Array[]): string[] {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l));
  for (const c of chunks) s.push(c);
  s.end();
  return lines;
}

const text = '{"type":"ADDED","object":{"name":"ü-1"}}\n{"type":"MODIFIED","object":{"name":"日本-2"}}\n\n{"type":"DELETED"}\n{"last":"no newline ✓"}';
const bytes = new TextEncoder().encode(text);
const expected = ['{"type":"ADDED","object":{"name":"ü-1"}}', '{"type":"MODIFIED","object":{"name":"日本-2"}}', '{"type":"DELETED"}', '{"last":"no newline ✓"}'];

test("one chunk: every line, empty lines skipped, the last line without a newline at the end", () => {
  expect(split([bytes])).toEqual(expected);
});

test("every cut of the stream into two and three chunks gives the same lines (characters split between chunks)", () => {
  for (let i = 0; i <= bytes.length; i++) {
    expect(split([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(expected);
    const j = Math.min(bytes.length, i + 3);
    expect(split([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)])).toEqual(expected);
  }
});

test("a byte at a time", () => {
  expect(split([...bytes].map((b) => Uint8Array.of(b)))).toEqual(expected);
});

test("a chunk's buffer reused by the stream after push does not change a carried line", () => {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l));
  const buf = new TextEncoder().encode('{"a":1}\n{"b":');
  s.push(buf);
  buf.fill(0x20); // the stream writes its next bytes into the same buffer
  s.push(new TextEncoder().encode("2}\n"));
  expect(lines).toEqual(['{"a":1}', '{"b":2}']);
});
