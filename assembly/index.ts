// The ABI of build/sart.wasm: the only exports. Each area exports its own
// functions from its exports.ts; host/core is the only code that calls them.
export * from "./bgp/exports";
export * from "./ipam/exports";
export * from "./rib/exports";
