// rib ABI exports (filled in by the rib work).
export function ribVersion(): u32 { return 1; }
