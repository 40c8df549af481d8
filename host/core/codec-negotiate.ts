// Session options from the two OPEN messages of a session: what the decoder
// needs to read the UPDATEs one side sends to the other.
import type { CodecOptions, DecodedMessage } from "./codec-types.ts";
import { familyName } from "./codec-names.ts";

function caps(open: DecodedMessage, code: number) {
  return (open.capabilities ?? []).filter((c) => c.code === code);
}

const SENDS: Record<string, boolean> = { send: true, both: true };
const RECEIVES: Record<string, boolean> = { receive: true, both: true };

/**
 * Options for decoding what `sender` sends to `receiver`: 4-octet AS when both
 * advertise it (RFC 6793), add-path for the families the sender may send and
 * the receiver accepts (RFC 7911), extended messages when both advertise them
 * (RFC 8654).
 */
export function negotiatedOptions(sender: DecodedMessage, receiver: DecodedMessage): CodecOptions {
  const addPathModes = (open: DecodedMessage) => {
    const m = new Map<string, string>();
    for (const c of caps(open, 69)) {
      for (const f of (c.families as { afi: number; safi: number; sendReceive: string | number }[]) ?? []) {
        m.set(familyName(f.afi, f.safi), String(f.sendReceive));
      }
    }
    return m;
  };
  const sent = addPathModes(sender);
  const received = addPathModes(receiver);
  const addPath = [...sent].filter(([fam, mode]) => SENDS[mode] && RECEIVES[received.get(fam) ?? ""]).map(([fam]) => fam);
  return {
    as4: caps(sender, 65).length > 0 && caps(receiver, 65).length > 0,
    addPath,
    extendedMessage: caps(sender, 6).length > 0 && caps(receiver, 6).length > 0,
  };
}
