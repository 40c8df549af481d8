// Session options from both OPENs (what a pcap reader or the speaker feeds the decoder).
import { expect, test } from "bun:test";
import { type DecodedMessage, decodeMessages, encodeMessage, negotiatedOptions } from "../../host/core/codec.ts";

const open = (capabilities: DecodedMessage["capabilities"]): DecodedMessage =>
  decodeMessages(encodeMessage({ type: "OPEN", myAs: 65001, holdTime: 90, routerId: "192.0.2.1", capabilities }))[0];

test("4-octet AS, add-path per direction and extended messages need both sides", () => {
  const a = open([
    { code: 65, name: "4-octet-as", asn: 65001 },
    { code: 6, name: "extended-message" },
    { code: 69, name: "add-path", families: [{ afi: 1, safi: 1, sendReceive: "send" }, { afi: 2, safi: 1, sendReceive: "both" }] },
  ]);
  const b = open([
    { code: 65, name: "4-octet-as", asn: 65002 },
    { code: 69, name: "add-path", families: [{ afi: 1, safi: 1, sendReceive: "receive" }, { afi: 2, safi: 1, sendReceive: "receive" }] },
  ]);
  expect(negotiatedOptions(a, b)).toEqual({ as4: true, addPath: ["ipv4-unicast", "ipv6-unicast"], extendedMessage: false });
  // b only receives: nothing it sends carries path ids.
  expect(negotiatedOptions(b, a)).toEqual({ as4: true, addPath: [], extendedMessage: false });
  const old = open([]);
  expect(negotiatedOptions(a, old)).toEqual({ as4: false, addPath: [], extendedMessage: false });
});
