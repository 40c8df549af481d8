// The stores the controller scenarios run on.
import { type Backend, localBackend } from "./controller-harness.ts";

export const backends: Backend[] = [localBackend];
