// ipam ABI exports (filled in by the ipam work).
export function ipamVersion(): u32 { return 1; }
