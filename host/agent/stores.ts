// Where the agent's objects come from. Kubernetes mode: the API server (KubeStore, which
// logs an outage once, then at most a line a minute, naming the URL).
// Standalone mode: the CRD YAML of a directory (LocalStore, state under --state-dir)
// with the controller's reconcilers running in-process, re-read when the directory
// changes (fs watch, debounced) or on reload() (SIGHUP).
import { type FSWatcher, watch } from "node:fs";
import { join } from "node:path";
import type { Store } from "../kube/store.ts";
import type { Log } from "./log.ts";

export interface AgentStore {
  store: Store;
  /** Names the store in logs, e.g. "API server https://10.0.0.1:6443". */
  source: string;
  /** Kubernetes: whether the API server is unreachable now (its outage log says so once). */
  unreachable?: () => boolean;
  /** Standalone: re-reads the config directory now. */
  reload?: () => Promise<void>;
  close(): Promise<void>;
}

export async function kubernetesStore(o: { kubeconfig?: string; context?: string; node: string }, log: Log): Promise<AgentStore> {
  const { loadKubeConfig } = await import("../kube/kubeconfig.ts");
  const { KubeStore } = await import("../kube/kube-store.ts");
  const loaded = loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context });
  // KubeStore reports an unreachable API server once per outage (its OutageLog), naming the URL.
  const store = new KubeStore(loaded.kc, { component: "sart-agent", host: o.node, log });
  return { store, source: `API server ${loaded.kc.getCurrentCluster()?.server}`, unreachable: () => store.outage.unreachable, close: async () => store.close() };
}

/** Debounce of directory events: an editor's write-rename-chmod is one reload. */
const RELOAD_DELAY_MS = 200;

export async function standaloneStore(o: { configDir: string; stateDir: string }, log: Log): Promise<AgentStore> {
  // Imported here: the controller's code is only ever needed without Kubernetes.
  const { LocalStore } = await import("../kube/local-store.ts");
  const { Controller } = await import("../kube/controller/controller.ts");
  const store = await LocalStore.open({ dir: o.configDir, stateFile: join(o.stateDir, "standalone-store.json"), component: "sart-agent" });
  const controller = new Controller({ store, log: (level, msg) => log(`controller ${level}: ${msg}`) });
  await controller.start();
  await controller.startLeading();
  let reloading: Promise<void> = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      try {
        await store.reload();
        log(`config ${o.configDir}: reloaded`);
      } catch (e) {
        log(`config ${o.configDir}: not reloaded, nothing changed: ${(e as Error).message}`);
      }
    });
    return reloading;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(o.configDir, { recursive: true }, (_event, file) => {
      if (file && !/\.ya?ml$/.test(String(file))) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void reload(), RELOAD_DELAY_MS);
    });
  } catch (e) {
    log(`config ${o.configDir}: cannot watch (${(e as Error).message}); reload with SIGHUP`);
  }
  return {
    store,
    source: `config ${o.configDir}`,
    reload,
    close: async () => {
      watcher?.close();
      if (timer) clearTimeout(timer);
      await reloading;
      controller.stopLeading();
      await controller.drain();
      await controller.stop();
      await store.close();
    },
  };
}
