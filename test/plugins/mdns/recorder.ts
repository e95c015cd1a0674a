/**
 * Start the recording responder (recording-responder.ts) inside a test
 * namespace and read back what it saw. Used by the mdns system tests.
 */
import { join } from "node:path";
import type { Namespace } from "../../helpers/netns.ts";

const RESPONDER = join(import.meta.dir, "recording-responder.ts");

/** One line of the recording responder. */
export interface Recorded {
  query: number;
  t: number;
  family: 4 | 6;
  from: string;
  port: number;
  id: number;
  questions: { name: string; type: number }[];
}

/** Start the recording responder in `ns` with `args`; wait for "ready". */
export async function startRecorder(ns: Namespace, args: string[]) {
  const child = ns.spawn([process.execPath, RESPONDER, ...args]);
  let out = "";
  let err = "";
  const reader = Promise.all([
    (async () => {
      for await (const chunk of child.stdout) out += new TextDecoder().decode(chunk);
    })(),
    (async () => {
      for await (const chunk of child.stderr) err += new TextDecoder().decode(chunk);
    })(),
  ]);
  const deadline = Date.now() + 10_000;
  while (!out.includes("ready")) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error(`recording responder did not start: ${out} ${err}`);
    }
    await Bun.sleep(20);
  }
  // complete lines only: the last piece may still be arriving
  const lines = () => out.split("\n").slice(0, -1).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    queries: () => lines().filter((l) => "query" in l) as unknown as Recorded[],
    answered: () => lines().filter((l) => "answered" in l).map((l) => l.answered as number),
    output: () => out + err,
    async stop() {
      child.kill();
      await child.exited;
      await reader.catch(() => {});
    },
  };
}
