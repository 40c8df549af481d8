// Session options from the two OPEN messages of a session: what the decoder
// needs to read the UPDATEs one side sends to the other.
import type { CodecOptions, DecodedMessage } from "./codec-types.ts";
import { familyName } from "./codec-names.ts";

function caps(open: DecodedMessage, code: number) {
  return (open.capabilities ?? []).filter((c) => c.code === code);
}

const RECEIVE = 1;
const SEND = 2;
/** RFC 7911 Send/Receive as decoded ("receive", "send", "both"); other values count as not advertised. */
const MODE_BITS: Record<string, number> = { receive: RECEIVE, send: SEND, both: SEND | RECEIVE };

/** Family name -> send/receive bits over every ADD-PATH capability of an OPEN. */
function addPathModes(open: DecodedMessage): Map<string, number> {
  const modes = new Map<string, number>();
  for (const c of caps(open, 69)) {
    for (const f of (c.families as { afi: number; safi: number; sendReceive: string | number }[]) ?? []) {
      const family = familyName(f.afi, f.safi);
      modes.set(family, (modes.get(family) ?? 0) | (MODE_BITS[String(f.sendReceive)] ?? 0));
    }
  }
  return modes;
}

/**
 * Options for decoding what `sender` sends to `receiver`: 4-octet AS when both
 * advertise it (RFC 6793), add-path for the families the sender may send and
 * the receiver accepts (RFC 7911), extended messages when both advertise them
 * (RFC 8654).
 */
export function negotiatedOptions(sender: DecodedMessage, receiver: DecodedMessage): CodecOptions {
  const sent = addPathModes(sender);
  const received = addPathModes(receiver);
  const addPath = [...sent].filter(([fam, mode]) => mode & SEND && (received.get(fam) ?? 0) & RECEIVE).map(([fam]) => fam);
  return {
    as4: caps(sender, 65).length > 0 && caps(receiver, 65).length > 0,
    addPath,
    extendedMessage: caps(sender, 6).length > 0 && caps(receiver, 6).length > 0,
  };
}
