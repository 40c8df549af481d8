// `sart --version`: the package version, the git commit when sart runs from a checkout
// (one local `git rev-parse`, no network), and the runtime.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The directory of sart's package.json above this module (source tree or build/node bundle). */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "sart") return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

function gitCommit(root: string): string | undefined {
  if (!existsSync(join(root, ".git"))) return undefined;
  try {
    return execFileSync("git", ["-C", root, "rev-parse", "--short=12", "HEAD"], { encoding: "utf8", timeout: 2000, stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
  } catch {
    return undefined; // no git binary, or not a repository after all
  }
}

/** "sart 0.1.0 (commit 0375a45c1d2e), Bun 1.4.5" */
export function versionText(): string {
  const root = packageRoot();
  const version = root ? String(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version) : "unknown";
  const commit = root ? gitCommit(root) : undefined;
  const runtime = process.versions.bun ? `Bun ${process.versions.bun}` : `Node ${process.versions.node}`;
  return `sart ${version}${commit ? ` (commit ${commit})` : ""}, ${runtime}\n`;
}
