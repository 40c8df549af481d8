export async function run(_args: string[]): Promise<number> {
  process.stderr.write("sart decode: not built yet\n");
  return 1;
}
