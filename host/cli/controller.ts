// Placeholder until the controller command lands; replaced by its owner.
export async function run(_args: string[]): Promise<number> {
  process.stderr.write("sart controller: not implemented yet\n");
  return 1;
}
