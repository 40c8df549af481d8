// Shared by the decode tests: the committed capture fixtures, what the daemons were
// configured to send (tests/fixtures/expected.json), and sart's decoding of them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeMessages } from "../../host/core/codec.ts";
import { decodeCapture } from "../../host/capture/bgp-capture.ts";

export const FIXTURES = join(import.meta.dir, "..", "fixtures");
export const PCAPS = join(FIXTURES, "pcap");
export const ROOT = join(import.meta.dir, "..", "..");
export const SART = join(ROOT, "build", "bin", "sart");

export interface ExpectedRoute {
  prefix: string;
  pathId?: number;
  nextHop: string;
  origin: string;
  asPath: number[];
  med?: number;
  localPref?: number;
  communities?: string[];
  largeCommunities?: string[];
  extendedCommunities?: string[];
  originatorId?: string;
  clusterList?: string[];
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
}

export interface ExpectedSpeaker {
  address: string;
  asn: number;
  myAs: number;
  routerId: string;
  holdTime?: number;
  capabilities: string[];
  multiprotocol: string[];
  addPath?: Record<string, string>;
  gracefulRestartTime?: number;
  routes: ExpectedRoute[];
  pathIds: boolean | Record<string, boolean>;
  withdrawn: string[];
  routeRefresh: { afi: number; safi: number }[];
  notification?: { code: number; subcode: number; communication?: string };
}

export interface ExpectedFixture {
  port: number;
  linkType: string;
  speakers: Record<string, ExpectedSpeaker>;
}

export const expected: Record<string, ExpectedFixture> = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8")).fixtures;

export type Msg = Record<string, any>;

/** sart's decoding of a fixture, in-process (the CLI path is covered by cli.test.ts). */
export function decodeFixture(name: string): { messages: Msg[]; problem?: string } {
  const bytes = readFileSync(join(PCAPS, name));
  return decodeCapture(bytes, (b, o) => decodeMessages(b, o) as Msg[], { port: expected[name].port, defaults: { as4: true } });
}

/** "addr:port" prefix of the flows a speaker sends on. */
export function senderPrefix(address: string): string {
  return address.includes(":") ? `[${address}]:` : `${address}:`;
}

export function flatAsns(path: { asns: number[] }[] | undefined): number[] {
  return (path ?? []).flatMap((s) => s.asns);
}
