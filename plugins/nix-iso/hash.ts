/**
 * sha256 of an image, streamed through Bun's native hasher: images are GiBs,
 * and @noble/hashes is ~9x slower on bulk data here (DESIGN.md "Performance").
 */

/** Hex sha256 of the file at `path`, read in chunks (never whole into memory). */
export async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}
