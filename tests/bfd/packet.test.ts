// The BFD Control packet codec (RFC 5880 4.1) and the receive checks of 6.8.6
// that need no session.
import { describe, expect, test } from "bun:test";
import { BfdState, type ControlPacket, Diag, decodeControl, diagName, encodeControl } from "../../host/bfd/packet.ts";

const base: ControlPacket = {
  diag: Diag.DetectionTimeExpired, state: BfdState.Up, poll: true, final: false, controlPlaneIndependent: false, demand: false,
  detectMult: 3, myDiscriminator: 0x01020304, yourDiscriminator: 0xfffffffe,
  desiredMinTx: 300_000, requiredMinRx: 1_000_000, requiredMinEchoRx: 0,
};

function bytes(p: Partial<ControlPacket> = {}, edit?: (b: Uint8Array) => void): Uint8Array {
  const b = encodeControl({ ...base, ...p });
  edit?.(b);
  return b;
}

describe("BFD Control packets", () => {
  test("encode lays out RFC 5880 4.1 bit for bit", () => {
    const b = bytes();
    expect(Buffer.from(b).toString("hex")).toBe(
      "21" + // version 1, diag 1
      "e0" + // state Up (3 << 6), P
      "03" + "18" + "01020304" + "fffffffe" + "000493e0" + "000f4240" + "00000000",
    );
    expect(bytes({ poll: false, final: true, controlPlaneIndependent: true, demand: true, state: BfdState.AdminDown })[1]).toBe(0x10 | 0x08 | 0x02);
  });

  test("decode returns what encode wrote, for every state and diag", () => {
    for (const state of [BfdState.AdminDown, BfdState.Down, BfdState.Init, BfdState.Up]) {
      for (const diag of [0, 1, 3, 7, 8]) {
        const p = { ...base, state, diag, poll: false, final: state === BfdState.Init };
        expect(decodeControl(encodeControl(p))).toEqual(p);
      }
    }
  });

  test("a longer datagram is fine when the length field covers 24 bytes", () => {
    const b = new Uint8Array(30);
    b.set(bytes());
    expect(decodeControl(b)).toMatchObject({ myDiscriminator: 0x01020304 });
  });

  const bad: [string, Uint8Array, string][] = [
    ["short", bytes().subarray(0, 23), "short packet (23 bytes)"],
    ["version 2", bytes({}, (b) => (b[0] = (2 << 5) | 1)), "version 2"],
    ["version 0", bytes({}, (b) => (b[0] = 1)), "version 0"],
    ["length field under 24", bytes({}, (b) => (b[3] = 20)), "length field 20 < 24"],
    ["length field over the datagram", bytes({}, (b) => (b[3] = 26)), "length field 26 > 24 bytes received"],
    ["authentication bit", bytes({}, (b) => (b[1] |= 0x04)), "authentication present (not configured)"],
    ["multipoint bit", bytes({}, (b) => (b[1] |= 0x01)), "multipoint bit set"],
    ["detect multiplier 0", bytes({ detectMult: 0 }), "detect multiplier 0"],
    ["my discriminator 0", bytes({ myDiscriminator: 0 }), "my discriminator 0"],
    ["poll and final together", bytes({ poll: true, final: true }), "poll and final both set"],
  ];
  for (const [name, b, error] of bad) {
    test(`discarded (6.8.6): ${name}`, () => {
      expect(decodeControl(b)).toEqual({ error });
    });
  }

  test("diagnostic names, unknown codes by number", () => {
    expect(diagName(0)).toBe("none");
    expect(diagName(1)).toBe("control-detection-time-expired");
    expect(diagName(3)).toBe("neighbor-signaled-session-down");
    expect(diagName(7)).toBe("administratively-down");
    expect(diagName(31)).toBe("diag-31");
  });
});
