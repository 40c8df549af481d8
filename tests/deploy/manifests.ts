// The deploy manifests as kubectl renders them (`kubectl kustomize crds/deploy`), and kubectl
// against a test API server.
import { execFile } from "node:child_process";
import { join } from "node:path";
import yaml from "js-yaml";

export const ROOT = join(import.meta.dir, "../..");
export const DEPLOY_DIR = join(ROOT, "crds/deploy");

/** A rendered object: read loosely (deep paths into Deployment/DaemonSet specs), so `any` below. */
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: any };

export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

/** `kubectl kustomize crds/deploy`, parsed. */
export async function renderDeploy(): Promise<Manifest[]> {
  const r = await run("kubectl", ["kustomize", DEPLOY_DIR]);
  if (r.code !== 0) throw new Error(`kubectl kustomize ${DEPLOY_DIR} failed (${r.code}): ${r.stderr}`);
  return (yaml.loadAll(r.stdout) as Manifest[]).filter(Boolean);
}

export function find(objects: Manifest[], kind: string, name: string): Manifest {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`crds/deploy renders no ${kind} ${name}`);
  return o;
}

/**
 * A container's command line as the kubelet runs it: command + args with `$(VAR)` replaced
 * from the container's env (`values` gives what its fieldRefs would resolve to).
 */
export function commandLine(container: Manifest, values: Record<string, string>): string[] {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) env[e.name] = e.value ?? values[e.name] ?? "";
  const expand = (s: string) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => (v in env ? env[v] : m));
  return [...(container.command ?? []), ...(container.args ?? [])].map(expand);
}
