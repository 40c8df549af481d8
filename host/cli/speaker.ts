// Placeholder until the speaker command lands; replaced by its owner.
export async function run(_args: string[]): Promise<number> {
  process.stderr.write("sart speaker: not implemented yet\n");
  return 1;
}
