// What a BGPPeer names outside itself: the Secret holding its TCP MD5 password
// (`passwordSecret`) and the BFDProfile of its BFD timers (`bfdProfile`). The agent
// watches exactly those objects (NamedObjects); a change to one reaches the session (a
// rotated password resets it with the new key; new BFD timers go to the running BFD
// session without touching BGP). One that is missing or unreadable is a PeerProblem
// naming it, never a session without it.
import { type BfdProfile, DEFAULT_PROFILE } from "../bfd/session.ts";
import type { Store } from "../kube/store.ts";
import type { BFDProfile, BGPPeer, Secret } from "../kube/types.ts";
import { MD5_KEY_MAX } from "../sockopt/sockets.ts";
import { type Lookup, NamedObjects } from "./named-objects.ts";

/** The Secret key of a passwordSecret without `key` (a kubernetes.io/basic-auth Secret's, as MetalLB's). */
export const DEFAULT_PASSWORD_KEY = "password";

/**
 * Why a BGPPeer has no session, or runs on its last good settings.
 * - waiting: a named object is not read yet (transient: no Event);
 * - unresolved: a named object is missing, unreadable or unusable (or the speaker
 *   refused a change): a session already running keeps the settings it has, a new one
 *   is not started;
 * - invalid: the spec cannot become a session (or the runtime cannot do what it asks).
 */
export class PeerProblem extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly severity: "waiting" | "unresolved" | "invalid",
  ) {
    super(message);
  }
}

export class PeerReferences {
  private readonly secrets: NamedObjects<Secret>;
  private readonly profiles: NamedObjects<BFDProfile>;

  /** `onChange`: a named object changed (or was read for the first time). */
  constructor(store: Store, onChange: () => void) {
    this.secrets = new NamedObjects<Secret>(store, "Secret", onChange);
    this.profiles = new NamedObjects<BFDProfile>(store, "BFDProfile", onChange);
  }

  /** Watches what these BGPPeers name, and nothing else. */
  want(peers: BGPPeer[]): void {
    this.secrets.want(peers.flatMap((p) => (p.spec.passwordSecret ? [{ namespace: p.spec.passwordSecret.namespace, name: p.spec.passwordSecret.name }] : [])));
    this.profiles.want(peers.flatMap((p) => (p.spec.bfdProfile ? [{ name: p.spec.bfdProfile }] : [])));
  }

  /** The peer's TCP MD5 password (undefined: none asked); throws a PeerProblem naming the Secret. */
  password(p: BGPPeer): string | undefined {
    const ref = p.spec.passwordSecret;
    if (!ref) return undefined;
    const key = ref.key ?? DEFAULT_PASSWORD_KEY;
    const secret = found(this.secrets.lookup(ref), this.secrets.describe(ref), "spec.passwordSecret", "Secret");
    const what = `spec.passwordSecret: ${this.secrets.describe(ref)}`;
    const bad = (m: string) => new PeerProblem("InvalidSecret", `${what}: ${m}`, "unresolved");
    let bytes: Uint8Array;
    if (secret.data?.[key] !== undefined) {
      const b64 = secret.data[key];
      bytes = Buffer.from(b64, "base64");
      if (Buffer.from(bytes).toString("base64").replace(/=+$/, "") !== b64.replace(/=+$/, "")) throw bad(`data.${key} is not base64`);
    } else if (secret.stringData?.[key] !== undefined) {
      bytes = new TextEncoder().encode(secret.stringData[key]);
    } else {
      const keys = [...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})];
      throw bad(`has no key ${JSON.stringify(key)} (its keys: ${keys.length ? keys.join(", ") : "none"})`);
    }
    if (bytes.length < 1 || bytes.length > MD5_KEY_MAX) throw bad(`key ${JSON.stringify(key)} must hold 1..${MD5_KEY_MAX} bytes (a TCP MD5 key), not ${bytes.length}`);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw bad(`key ${JSON.stringify(key)} is not UTF-8 text`);
    }
  }

  /** The peer's BFD timers (undefined: no BFD asked); throws a PeerProblem naming the BFDProfile. */
  bfd(p: BGPPeer): BfdProfile | undefined {
    const name = p.spec.bfdProfile;
    if (!name) return undefined;
    const profile = found(this.profiles.lookup({ name }), this.profiles.describe({ name }), "spec.bfdProfile", "BFDProfile");
    const s = profile.spec ?? {};
    const field = (k: keyof BfdProfile, min: number, max: number): number => {
      const v = s[k] ?? DEFAULT_PROFILE[k];
      if (!Number.isInteger(v) || v < min || v > max) throw new PeerProblem("InvalidBFDProfile", `spec.bfdProfile: ${this.profiles.describe({ name })}: spec.${k} must be ${min}..${max}, not ${v}`, "unresolved");
      return v;
    };
    return { receiveInterval: field("receiveInterval", 10, 60000), transmitInterval: field("transmitInterval", 10, 60000), detectMultiplier: field("detectMultiplier", 2, 255) };
  }

  stop(): void {
    this.secrets.stop();
    this.profiles.stop();
  }
}

/** The object of a lookup, or the PeerProblem saying why there is none (reasons SecretNotFound, WaitingForBFDProfile, ...). */
function found<T>(l: Lookup<T>, what: string, field: string, kind: string): T {
  switch (l.state) {
    case "found":
      return l.object;
    case "waiting":
      return fail(`WaitingFor${kind}`, `${field}: waiting for ${what} to be read`, "waiting");
    case "missing":
      return fail(`${kind}NotFound`, `${field}: ${what} not found`, "unresolved");
    case "unreadable":
      return fail(`${kind}Unreadable`, `${field}: cannot read ${what}: ${l.message}`, "unresolved");
  }
}

function fail(reason: string, message: string, severity: PeerProblem["severity"]): never {
  throw new PeerProblem(reason, message, severity);
}
