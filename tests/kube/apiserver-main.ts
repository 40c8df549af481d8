// `bun run test-apiserver -- --port N --kubeconfig FILE [--host H] [--crds DIR]... [--no-crds]`
// Starts the sart test API server, writes a kubeconfig for it and serves until killed.
import { startApiServer, type ApiServerOptions } from "./apiserver/index.ts";

function usage(msg: string): never {
  console.error(`test-apiserver: ${msg}\nusage: bun run test-apiserver -- [--port N] [--host ADDR] [--kubeconfig FILE] [--crds DIR]... [--no-crds]`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opts: ApiServerOptions = {};
const crdDirs: string[] = [];
let noCrds = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const val = () => args[++i] ?? usage(`${a} needs a value`);
  if (a === "--") continue;
  else if (a === "--port") {
    const p = Number(val());
    if (!Number.isInteger(p) || p < 0 || p > 65535) usage(`--port: not a port: ${args[i]}`);
    opts.port = p;
  } else if (a === "--host") opts.host = val();
  else if (a === "--kubeconfig") opts.kubeconfigPath = val();
  else if (a === "--crds") crdDirs.push(val());
  else if (a === "--no-crds") noCrds = true;
  else usage(`unknown argument ${a}`);
}
if (noCrds) opts.crds = "none";
else if (crdDirs.length) opts.crds = crdDirs;

const server = await startApiServer(opts);
console.log(`test apiserver listening on ${server.url}${server.kubeconfigPath ? `, kubeconfig ${server.kubeconfigPath}` : ""}`);
const stop = () => {
  server.stop().finally(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
