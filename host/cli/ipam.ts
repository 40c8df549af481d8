// Placeholder until the ipam command lands; replaced by its owner.
export async function run(_args: string[]): Promise<number> {
  process.stderr.write("sart ipam: not implemented yet\n");
  return 1;
}
