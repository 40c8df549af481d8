// bgp ABI exports (filled in by the bgp work).
export function bgpVersion(): u32 { return 1; }
