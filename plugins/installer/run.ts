/**
 * Run a rendered plan through a transport and follow its `@flk` markers:
 * each step's status as it happens, logged as it starts.
 */
import type { Flk } from "../../core/index.ts";
import type { Step } from "./hooks.ts";
import { parseMarker, shJoin } from "./script.ts";
import type { Transport } from "./transport.ts";

/** One step and what became of it. */
export type StepStatus = "planned" | "ran" | "skipped" | "failed" | "not-run";

/** A step with its status, as reports carry it. */
export type RanStep = Step & { status: StepStatus };

/** How the run ended. */
export interface RunOutcome {
  /** The script reached `@flk done`. */
  ok: boolean;
  /** The exit code of the failed step, else of the script. */
  code: number;
  stderrTail: string[];
}

/** Run `script` (rendered from `steps`) and update each step's status from the markers. */
export async function runSteps(flk: Flk, transport: Transport, script: string, steps: RanStep[], interrupted?: string): Promise<RunOutcome> {
  const log = flk.logger("installer");
  const byId = new Map(steps.map((s) => [s.id, s]));
  let done = false;
  let failedCode: number | undefined;
  const running = transport.run(script, {
    echo: true,
    signal: flk.signal,
    onLine(line) {
      const marker = parseMarker(line);
      if (marker?.event === "done") done = true;
      const step = marker && byId.get(marker.id);
      if (!marker || !step) return;
      if (marker.event === "run") {
        step.status = "ran";
        log.info(`${step.title}: ${shJoin(step.argv)}`);
      } else if (marker.event === "skip") step.status = "skipped";
      else if (marker.event === "fail") {
        step.status = "failed";
        failedCode = marker.code;
      }
    },
  });
  // On SIGINT/SIGTERM the run stops the script's process group and waits for it; then say what that means.
  const off = flk.onCleanup(async () => {
    await running.catch(() => undefined);
    if (interrupted) log.warn(interrupted);
  });
  let run: Awaited<typeof running>;
  try {
    run = await running;
  } finally {
    if (!flk.signal.aborted) off();
  }
  for (const step of steps) if (step.status === "planned") step.status = "not-run";
  return { ok: done, code: failedCode ?? run.code, stderrTail: run.stderrTail };
}
