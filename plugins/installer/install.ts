/**
 * `flk install` as a library: probe → preflight → plan → script → run (or
 * print), here or over ssh. Tests call `install()` without argv.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { checkHost as checkSiteHost, FlkError, isFlkError, run as runCommand, targetChanged, type Flk } from "../../core/index.ts";
import type { InstallContext, Step } from "./hooks.ts";
import { DEFAULT_PATHS, parseProbe, probeScript, type Facts, type ProbePaths } from "./probe.ts";
import { preflight, type Preflight } from "./preflight.ts";
import { baseSteps, planSteps } from "./plan.ts";
import { parseMarker, renderScript, shJoin, shQuote, type ScriptMode } from "./script.ts";
import { localTransport, SSH_FAILED, type ScriptRun, type Transport } from "./transport.ts";
import { remoteTransport } from "./remote.ts";
import { claim, confirmDisk, judge, planDisk, type DiskFacts } from "./disk.ts";
import { diskProbeLines, judgeProbed, rejudgeProbed } from "./disk-probe.ts";
import { partitionNode, type Boot, type Layout } from "./layout.ts";
import { checkExtraFiles, DATA_PREFIX, extraFilesStep, hardwareStep, packExtraFiles, redactedInput, writeHardwareConfig, type HardwareWritten, type PackedFiles } from "./extras.ts";
import { checkSiteAgainstStick, chooseSource, siteNarHash, stickNarHash, type Source } from "./offline.ts";
import { installerOptions, type InstallerOptions } from "./options.ts";
import { checkFacterTool, facterStep, planHardware, writeFacterReport, type HardwareBackend, type HardwarePlan } from "./facter.ts";

/** What `flk install` was asked to do. */
export interface InstallOptions {
  /** Required unless `undo`. */
  host?: string;
  /** `USER@ADDRESS` or a name for the `locate` hook; absent: this machine. */
  target?: string;
  dryRun?: boolean;
  undo?: boolean;
  impure?: boolean;
  /** undefined: on only on a live installer (`VARIANT_ID=installer`). */
  storeOverlay?: boolean;
  /** Arguments after `--`, for nixos-install unchanged. */
  extraArgs?: string[];
  /** Where the probe looks (tests point these at temporary files). */
  paths?: Partial<ProbePaths>;
  /** The ssh program (argv prefix); tests run it inside a network namespace. */
  ssh?: string[];
  /** The operator's ssh options for `--target` (`-i KEY`, `-p PORT`, `-J JUMP`), as `flk ssh` takes them. */
  sshArgs?: string[];
  locateTimeoutMs?: number;
  /** `--disk DEVICE [--boot] [--swap]`: partition and format DEVICE first (the manual's layout), in the same script. */
  disk?: { device: string; boot?: Boot; swap?: string };
  /** Ask on the terminal for the disk confirmation (default: stdin and stderr are terminals). */
  interactive?: boolean;
  /** `--hardware-config`: capture nixos-generate-config's output, or nixos-facter's report for a host that uses it, into the site; `gitAdd`: and `git add` it. */
  hardwareConfig?: boolean;
  /** `--hardware-backend`: the tool, instead of deciding from the host's facter reportPath (facter.ts). */
  hardwareBackend?: HardwareBackend;
  gitAdd?: boolean;
  /** `--extra-files DIR`: copied into the target root before nixos-install. */
  extraFiles?: string;
  /** `--rebuild`: always `nixos-install --flake`, even when the stick carries the host's system. */
  rebuild?: boolean;
  /** `--from-stick`: over --target, install the stick's version even when the operator's site differs from it. */
  fromStick?: boolean;
}

/** One step and what became of it. */
export type StepStatus = "planned" | "ran" | "skipped" | "failed" | "not-run";

/** The result, also the `--json` document. */
export interface InstallReport {
  mode: ScriptMode;
  host: string | null;
  /** `user@address` when run over ssh, else null. */
  target: string | null;
  flake: string | null;
  root: string;
  uefi: boolean;
  storeOverlay: boolean;
  devices: Record<string, { label: string; path: string; type: string }>;
  warnings: string[];
  steps: Array<Step & { status: StepStatus; needs?: string[] }>;
  /** The generated POSIX shell script. */
  script: string;
  /** `--system` (the closure the stick carries) or `--flake`, and why. */
  source: Source | null;
  /** The disk `--disk` lays out, or null. */
  disk: { device: string; size: number; model: string | null; layout: Layout } | null;
  /** Where `--hardware-config` wrote the captured configuration, once it ran. */
  hardwareConfig: HardwareWritten | null;
}

/** overlayfs splits its options at ',' and lowerdir lists at ':'. */
const OVERLAY_UNSAFE = /[,:\s]/;

const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9_'-]*$/;

/** Probe, judge, plan; run the plan unless `dryRun`. Throws FlkError (2 refused, 1 failed). */
export async function install(flk: Flk, options: InstallOptions): Promise<InstallReport> {
  const config = installerOptions.of(flk);
  const mode: ScriptMode = options.undo ? "undo" : "install";
  const host = checkHost(options.host, mode);
  const paths = { ...DEFAULT_PATHS, ...options.paths };
  const flakeDir = options.target ? config.liveFlake : localFlake(flk, config, paths, mode);
  // The host name before anything else (hosts/, else the flake's nixosConfigurations; core/hosts.ts); over --target reach() checks it.
  if (host && mode === "install" && !options.target) await checkSiteHost(flk, host, { root: flakeDir });
  const transport = options.target
    ? await remoteTransport(flk, host ?? "", options.target, { ssh: options.ssh, timeoutMs: options.locateTimeoutMs, sshArgs: options.sshArgs })
    : localTransport();
  const extraDir = options.extraFiles !== undefined && mode === "install" ? checkExtraFiles(options.extraFiles) : undefined;
  // Decided on the operator's side, where the site is, before anything runs: a reportPath outside the site is exit 2 here.
  const hardware = options.hardwareConfig && mode === "install" && host ? await planHardware(flk.siteRoot(), host, options.hardwareBackend) : undefined;
  const disk = mode === "install" ? options.disk : undefined;
  const request = { labels: config.labels, paths, flakeDir, host, root: config.root, extra: disk ? diskProbeLines(disk.device) : [] };
  const { facts, stdout: probed } = await probe(transport, request, flk.signal);
  // The plan works on the resolved root (DESIGN.md "Paths"): `/.`, `//` and symlinks are what they point to.
  const root = facts.rootReal || config.root;
  // Undo looks for flk's overlay wherever it runs: its upperdir under root makes it unmistakable.
  // A root overlayfs cannot name was never overlaid, so undo does not ask for one (and does not refuse).
  const storeOverlay = options.storeOverlay ?? (mode === "undo" ? !OVERLAY_UNSAFE.test(root) : facts.variant === "installer");
  const judged = disk ? (options.target ? judgeProbed(disk.device, probed, transport.where) : await judge(disk.device)) : undefined;
  const diskPlan = disk && judged ? await planDisk(flk, judged, disk.boot ?? (facts.uefi ? "uefi" : "bios"), { swap: disk.swap }) : undefined;
  const found = preflight({
    facts, labels: config.labels, root, configuredRoot: config.root, host, where: transport.where, storeOverlay, undo: options.undo, dryRun: options.dryRun,
    ...(diskPlan?.layout ? { layout: diskPlan.layout } : {}),
  });
  checkFacterTool(hardware, facts.facter, transport.where, host ?? "", options.dryRun ?? false);
  const source = mode === "install" && host ? chooseSource(facts, host, flakeDir, options.rebuild ?? false) : null;
  // Over --target the stick's version is installed, never the operator's tree: refuse when they differ (offline.ts).
  if (source && host && options.target) await checkSite(flk, source, facts, host, transport.where, flakeDir, options.fromStick ?? false);
  const ctx: InstallContext = {
    host: host ?? "",
    flake: host ? `${flakeDir}#${host}` : "",
    root,
    labels: config.labels,
    ...(options.target ? { target: transport.where } : {}),
    uefi: diskPlan?.layout ? diskPlan.layout.boot === "uefi" : found.uefi,
    storeOverlay,
    impure: options.impure ?? false,
    extraArgs: options.extraArgs ?? [],
  };
  const extras: Step[] = [];
  if (hardware) extras.push(hardware.backend === "nixos-facter" ? facterStep(relative(flk.siteRoot(), hardware.file)) : hardwareStep(root));
  const packed = extraDir ? await packExtraFiles(extraDir) : undefined;
  if (extraDir && packed) extras.push(extraFilesStep(extraDir, root, packed.base64));
  const base = baseSteps(ctx, found, paths.store, { system: source?.kind === "system" ? source.toplevel : undefined, beforeInstall: extras });
  const steps = await planSteps(flk, ctx, [...(diskPlan?.steps ?? []), ...base]);
  // A filesystem the disk step makes has no label yet when the script starts: the blkid check after mkfs guards it.
  const guards = Object.values(found.devices).filter((d) => !d.fromDisk).map((d) => ({ device: d.path, label: d.label }));
  const render = (list: Step[]) => renderScript(list, mode, { title: `flk install ${host ?? "--undo"}`, root, store: paths.store, guards, cwd: mode === "install" ? flakeDir : "/" });
  // The script that runs carries the --extra-files tar; the report (--json, --dry-run, --script) never does.
  const script = render(steps);
  const shown = packed ? redact(steps, packed) : steps;
  const report = makeReport(mode, ctx, found, shown, shown === steps ? script : render(shown), facts);
  report.source = source;
  if (diskPlan?.layout && judged) report.disk = { device: judged.path, size: judged.size, model: judged.model, layout: diskPlan.layout };
  if (options.dryRun) return report;
  if (judged) {
    await confirmDisk(flk, judged, options.interactive ?? Boolean(process.stdin.isTTY && process.stderr.isTTY), options.target ? transport.where : undefined);
    // Check, then prove: the question may have waited; judge the disk again where it is, and claim it (O_EXCL) here.
    // Over --target flk cannot hold the remote disk: probe it again and require the same disk (number, diskseq,
    // loop backing file); the script's disk-identity step proves it once more just before sfdisk runs.
    if (options.target) rejudgeProbed(judged, disk!.device, (await probe(transport, request, flk.signal)).stdout, transport.where, `flk install ${host} --disk ${disk!.device} --target ${shQuote(options.target)}`);
    else {
      await judge(judged.path);
      claim(judged);
    }
  }
  const captured = await execute(flk, transport, report, options, script);
  if (hardware && host) report.hardwareConfig = await saveHardware(flk, host, hardware, captured, options.gitAdd ?? false, options.target);
  return report;
}

/** Write what `hardware-config` sent back into the site (the operator's, also over --target). */
async function saveHardware(flk: Flk, host: string, plan: HardwarePlan, text: string, gitAdd: boolean, target?: string): Promise<HardwareWritten | null> {
  const log = flk.logger("installer");
  if (!text.trim()) {
    log.warn(`--hardware-config: ${plan.backend} sent nothing back${target ? ` from ${target}` : ""}; the site was not changed.`);
    return null;
  }
  const written = plan.backend === "nixos-facter"
    ? await writeFacterReport(flk.siteRoot(), host, plan.file, text, plan.facter !== null, gitAdd)
    : await writeHardwareConfig(flk.siteRoot(), host, text, gitAdd);
  log.success(`wrote ${written.file} (${written.bytes} bytes${target ? `, from ${target}` : ""})${written.gitAdded ? " and staged it (git add)" : ""}`);
  for (const warning of written.warnings) log.warn(warning);
  return written;
}

/** The operator's site (when there is one here) against the version the stick would install. */
async function checkSite(flk: Flk, source: Source, facts: Facts, host: string, where: string, flakeDir: string, fromStick: boolean): Promise<void> {
  let site: string;
  try {
    site = flk.siteRoot();
  } catch {
    return;
  }
  // No record on the stick, nothing to compare with (and no nix evaluation here).
  if (!stickNarHash(source, facts)) return;
  const siteHash = await siteNarHash(site);
  checkSiteAgainstStick({ source, facts, site, siteHash, host, where, flakeDir, fromStick, warn: (m) => flk.logger("installer").warn(m) });
}

/** The steps as printed: a step fed the --extra-files tar shows its size instead (the files are private keys). */
function redact(steps: Step[], packed: PackedFiles): Step[] {
  return steps.map((s) => (s.input === packed.base64 ? { ...s, input: redactedInput(packed) } : s));
}

function checkHost(host: string | undefined, mode: ScriptMode): string | undefined {
  if (host === undefined || host === "") {
    if (mode === "undo") return undefined;
    throw new FlkError("flk install needs the host to install, e.g. `flk install NixOS` for hosts/NixOS.nix.", "E_USAGE");
  }
  if (!HOST_NAME.test(host)) throw new FlkError(`expected a host name like NixOS (a nixosConfigurations attribute), got '${host}'`, "E_USAGE");
  return host;
}

/** The site here, else (on the live installer, where no site is checked out) the ISO's copy at liveFlake. */
function localFlake(flk: Flk, config: InstallerOptions, paths: ProbePaths, mode: ScriptMode): string {
  try {
    return flk.siteRoot();
  } catch (error) {
    if (!isFlkError(error)) throw error;
    if (isLiveInstaller(paths.osRelease) && existsSync(join(config.liveFlake, "flake.nix"))) return config.liveFlake;
    if (mode === "undo") return "/";
    throw error;
  }
}

/** nixpkgs sets `system.nixos.variant_id = "installer"` in installation-device.nix. */
export function isLiveInstaller(osRelease: string): boolean {
  try {
    return /^VARIANT_ID=["']?installer["']?$/m.test(readFileSync(osRelease, "utf8"));
  } catch {
    return false;
  }
}

async function probe(transport: Transport, request: Parameters<typeof probeScript>[0], signal: AbortSignal): Promise<{ facts: Facts; stdout: string }> {
  const run = await transport.run(probeScript(request), { signal });
  const facts = parseProbe(run.stdout, request.flakeDir);
  if (facts.complete) return { facts, stdout: run.stdout };
  if (!facts.started && run.code === SSH_FAILED) throw unreachable(transport, run.stderrTail);
  const last = run.stderrTail.slice(-5).join("\n");
  throw new FlkError(`the preflight probe on ${transport.where} stopped early (exit ${run.code})${last ? `:\n${last}` : ""}. Nothing was mounted or changed.`, "E_PROBE", 1);
}

function unreachable(transport: Transport, tail: string[]): FlkError {
  // A host key that is not the pinned one is not "unreachable": the sshFailed hook's taps (ssh-keys) say what it is.
  const explained = transport.explain?.(tail.join("\n"));
  if (explained) return explained;
  const last = tail.filter((l) => l.trim()).slice(-3).join(" / ");
  return new FlkError(
    `cannot reach ${transport.where} over ssh${last ? ` (${last})` : ""}; tried: ${transport.tried.join("; ")}. Nothing was changed. ` +
      `Check that the live installer is up and your key is in its authorized keys (flk keys list), or run flk install on it directly.`,
    "E_UNREACHABLE",
    1,
  );
}

function makeReport(mode: ScriptMode, ctx: InstallContext, found: Preflight, steps: Step[], script: string, facts: Facts): InstallReport {
  const devices: InstallReport["devices"] = {};
  for (const [role, d] of Object.entries(found.devices)) devices[role] = { label: d!.label, path: d!.path, type: d!.type };
  return {
    mode,
    host: ctx.host || null,
    target: ctx.target ?? null,
    flake: ctx.flake || null,
    root: ctx.root,
    uefi: ctx.uefi,
    storeOverlay: ctx.storeOverlay,
    devices,
    warnings: found.warnings,
    steps: steps.map((s) => ({ ...s, status: "planned" as StepStatus, ...needsOf(s, facts) })),
    script,
    source: null,
    disk: null,
    hardwareConfig: null,
  };
}

/** What a step needs that a workstation's --dry-run may lack: root (mounting, formatting), the live system (nixos-install, nixos-generate-config). */
function needsOf(step: Step, facts: Facts): { needs?: string[] } {
  const needs: string[] = [];
  if (facts.uid !== 0) needs.push("root");
  if ((step.id === "nixos-install" && !facts.nixosInstall) || (step.id === "hardware-config" && !facts.generateConfig) || (step.id === "facter-report" && !facts.facter)) needs.push("the live system");
  return needs.length ? { needs } : {};
}

/** Run the script, following its markers; a failed step is exit 1 with what is mounted and how to undo. */
async function execute(flk: Flk, transport: Transport, report: InstallReport, options: InstallOptions, script: string): Promise<string> {
  const log = flk.logger("installer");
  const progress = followMarkers(report, log);
  const running = transport.run(script, { echo: true, signal: flk.signal, onLine: progress.onLine });
  // SIGINT/SIGTERM abort the run, which stops the script's whole process group and waits
  // for it (core/exec.ts); only then does this cleanup say what is left and how to undo it.
  const off = flk.onCleanup(async () => {
    await running.catch(() => undefined);
    log.warn(`interrupted: the plan on ${transport.where} was stopped and has exited. ${await stateNow(transport, report.root)}Undo with \`${undoCommand(options)}\`.`);
  });
  let run: ScriptRun;
  try {
    run = await running;
  } finally {
    if (!flk.signal.aborted) off();
  }
  for (const step of report.steps) if (step.status === "planned") step.status = "not-run";
  if (progress.ended === "done") return progress.data.join("\n");
  throw executionError(transport, report, options, run, progress.ended, progress.failed);
}

/** Update step statuses and log each step as its marker arrives. */
function followMarkers(report: InstallReport, log: ReturnType<Flk["logger"]>) {
  const byId = new Map(report.steps.map((s) => [s.id, s]));
  const state: { ended?: "done" | "fail" | "changed"; failed?: { id: string; code?: number }; data: string[]; onLine(line: string): void } = {
    data: [],
    onLine(line) {
      if (line.startsWith(DATA_PREFIX)) return void state.data.push(line.slice(DATA_PREFIX.length));
      const marker = parseMarker(line);
      const step = marker && byId.get(marker.id);
      if (marker?.event === "done" || marker?.event === "changed") state.ended = marker.event;
      if (!marker || !step) return;
      if (marker.event === "run") {
        step.status = "ran";
        log.info(report.mode === "undo" ? `undo ${step.id}: ${shJoin(step.undo!)}` : `${step.title}: ${shJoin(step.argv)}`);
      } else if (marker.event === "skip") {
        step.status = "skipped";
        log.info(report.mode === "undo" ? `undo ${step.id}: not in place, left alone` : `${step.title}: already done`);
      } else if (marker.event === "fail") {
        step.status = "failed";
        [state.ended, state.failed] = ["fail", { id: step.id, code: marker.code }];
      }
    },
  };
  return state;
}

function undoCommand(options: InstallOptions): string {
  return `flk install --undo${options.target ? ` --target ${shQuote(options.target)}` : ""}`;
}

/** What is mounted under root now (here: findmnt; over ssh the session is gone, so the command to look). */
async function stateNow(transport: Transport, root: string): Promise<string> {
  if (transport.where !== "this machine") return `See what is still mounted there with \`findmnt -R ${shQuote(root)}\`. `;
  const found = await runCommand(["findmnt", "-R", "-n", "-o", "TARGET,SOURCE", "--", root]).catch(() => undefined);
  const swaps = await runCommand(["swapon", "--show=NAME", "--noheadings"]).catch(() => undefined);
  const mounted = found?.code === 0 ? found.stdout.trim() : "";
  return `${mounted ? `Mounted now:\n${mounted}\n` : `Nothing is mounted under ${root}. `}${swaps?.stdout.trim() ? `Swap in use: ${swaps.stdout.trim().split("\n").join(", ")}. ` : ""}`;
}

function executionError(transport: Transport, report: InstallReport, options: InstallOptions, run: ScriptRun, ended: string | undefined, failed?: { id: string; code?: number }): FlkError {
  if (ended === "changed")
    return new FlkError(`a labelled filesystem on ${transport.where} changed between the preflight and the install (relabelled or removed). Nothing was mounted. Run flk install again.`, "E_CHANGED", 2);
  if (!failed && run.code === SSH_FAILED && report.steps.every((s) => s.status === "not-run")) return unreachable(transport, run.stderrTail);
  // The first step, before anything is written: the disk at the path is not the one judged and confirmed.
  if (failed?.id === "disk-identity" && report.disk)
    return targetChanged(`${report.disk.device} on ${transport.where}`, run.stderrTail.filter((l) => l.startsWith("flk: ")).join(" ") || "the script's disk-identity check failed", `flk install ${report.host ?? "HOST"} --disk ${options.disk?.device ?? report.disk.device}${options.target ? ` --target ${shQuote(options.target)}` : ""}`);
  const undo = report.steps.filter((s) => s.undo && (s.status === "ran" || s.status === "skipped")).reverse().map((s) => shJoin(s.undo!));
  const again = undoCommand(options);
  const what = failed ? `the step '${failed.id}' failed (exit ${failed.code ?? "?"})` : `the plan stopped early (exit ${run.code})`;
  const advice = undo.length ? ` The mounts above are still in place; undo them with \`${again}\` (runs: ${undo.join("; ")}).` : " Nothing flk mounts is in place.";
  return new FlkError(`${report.mode === "undo" ? "undo" : "install"} on ${transport.where}: ${what}.${advice}`, failed ? "E_STEP_FAILED" : "E_PLAN_STOPPED", 1);
}
