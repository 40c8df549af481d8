// Placeholder until the agent command lands; replaced by its owner.
export async function run(_args: string[]): Promise<number> {
  process.stderr.write("sart agent: not implemented yet\n");
  return 1;
}
