// `import text from "x.yaml" with { type: "text" }` (Bun; inlined by bun build).
declare module "*.yaml" {
  const text: string;
  export default text;
}
