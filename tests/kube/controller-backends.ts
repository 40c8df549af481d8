// The stores the controller scenarios run on: the test API server through the real
// @kubernetes/client-node (KubeStore), and the LocalStore of standalone mode.
import { KubeConfig } from "@kubernetes/client-node";
import { KubeStore } from "../../host/kube/kube-store.ts";
import { startApiServer } from "./apiserver/index.ts";
import { type Backend, localBackend } from "./controller-harness.ts";

export const apiServerBackend: Backend = {
  name: "test API server",
  async open() {
    const server = await startApiServer({ namespaces: ["default", "kube-system", "test"] });
    const clients: KubeStore[] = [];
    const client = () => {
      const kc = new KubeConfig();
      kc.loadFromString(server.kubeconfig());
      const s = new KubeStore(kc, { component: "sart-controller" });
      clients.push(s);
      return s;
    };
    let current = client();
    return {
      store: current,
      second: async () => client(),
      restart: async () => {
        current.close();
        current = client();
        return current;
      },
      close: async () => {
        for (const c of clients) c.close();
        await server.stop();
      },
    };
  },
};

export const backends: Backend[] = [apiServerBackend, localBackend];
