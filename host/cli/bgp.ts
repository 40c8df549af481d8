// Placeholder until the bgp command lands; replaced by its owner.
export async function run(_args: string[]): Promise<number> {
  process.stderr.write("sart bgp: not implemented yet\n");
  return 1;
}
