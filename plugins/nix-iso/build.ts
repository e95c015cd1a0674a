/**
 * `flk iso`: plan every requested host (all checks, nothing built), then
 * build each with the real nix, hash the image and report it.
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import { ExitCode, FlkError, nixInfo, run, sha256File, type Flk, type IsoModule, type NixInfo } from "../../core/index.ts";
import { nixBuildArgv, type NixBuildPlan } from "./command.ts";
import { checkSiteFiles, flakeFacts, siteFlake, type SiteFlake } from "./flake.ts";
import { pickHosts, siteHosts } from "./hosts.ts";
import { ownContribution, referencedFiles, renderModule } from "./module.ts";
import type { NixIsoOptions } from "./options.ts";

/** What `flk iso` was asked for. */
export interface IsoRequest {
  /** Host names; or `all`. */
  hosts?: readonly string[];
  all?: boolean;
  /** Out-link, relative to the working directory (default `result`; `result-HOST` per host when building several). */
  outLink?: string;
  /** Arguments for nix (default: what followed `--`). */
  extraArgs?: readonly string[];
  /** Environment for nix (default: flk's). */
  env?: Record<string, string | undefined>;
}

/** One host, ready to build. */
export interface HostPlan {
  host: string;
  module: IsoModule;
  /** The module file's text (what --print-module prints). */
  text: string;
  build: NixBuildPlan;
}

/** Every host of a request, checked and rendered. */
export interface IsoPlan {
  flake: SiteFlake;
  info: NixInfo;
  hosts: HostPlan[];
  /** Directory of the rendered module files. */
  workDir: string;
}

/** One built image (also the `--json` line). */
export interface IsoResult {
  host: string;
  /** Absolute path of the image, through the out-link. */
  iso: string;
  size: number;
  sha256: string;
}

/** Check everything and render each host's module; nothing is built or written (modules go to a temp dir on write). */
export async function planIso(flk: Flk, request: IsoRequest): Promise<IsoPlan> {
  const options = flk.options<NixIsoOptions>("nix-iso");
  checkCopyTo(options.copyTo);
  const root = flk.siteRoot();
  const picked = pickHosts(siteHosts(flk), request.hosts ?? [], request.all ?? false, options.hosts);
  const info = await nixInfo();
  const flake = await siteFlake(root);
  const facts = await flakeFacts(flake, info, request.env ?? flk.env);
  const workDir = join(tmpdir(), `flk-iso-${randomBytes(6).toString("hex")}`);
  const hosts: HostPlan[] = [];
  const referenced: string[] = [];
  for (const entry of picked) {
    if (!facts.hosts.includes(entry.name))
      throw new FlkError(
        `${entry.file} exists, but the flake has no nixosConfigurations.${entry.name} (it has: ${facts.hosts.join(", ") || "none"}). Nothing was built. Add ${entry.name} to nixosConfigurations in flake.nix.`,
        "E_NO_CONFIGURATION",
      );
    const seed = ownContribution(entry.name, options.copyTo, facts);
    const module = await flk.hooks.isoModule.promise(seed, { host: entry.name, siteRoot: root });
    referenced.push(...referencedFiles(module));
    const outLink = outLinkFor(flk.cwd, request.outLink, entry.name, picked.length);
    const moduleFile = join(workDir, `${entry.name}.nix`);
    hosts.push({
      host: entry.name,
      module,
      text: renderModule(module, entry.name, flake),
      build: { host: entry.name, ref: flake.ref, moduleFile, outLink, extraArgs: request.extraArgs ?? flk.passthrough },
    });
  }
  // After every host's waterfall, so one message (and one `git add`) covers
  // the files of all hosts, e.g. host keys a plugin created for each.
  await checkSiteFiles(flake, referenced);
  return { flake, info, hosts, workDir };
}

/** The nix argv of each host (what --dry-run prints). */
export function planArgv(plan: IsoPlan): string[][] {
  return plan.hosts.map((h) => nixBuildArgv(h.build, plan.info));
}

/** Write the rendered modules to the plan's temp dir (so the printed or run command finds them). */
export function writeModules(plan: IsoPlan): void {
  makePrivateDir(plan.workDir);
  for (const host of plan.hosts) writeFileSync(host.build.moduleFile, host.text);
}

/** Build every planned host in turn; the temp module files are removed afterwards. */
export async function runIsoBuilds(flk: Flk, plan: IsoPlan, request: IsoRequest = {}): Promise<IsoResult[]> {
  // Side effects a real build needs (e.g. the installer host key): never run by --print-module or --dry-run.
  for (const host of plan.hosts) await flk.hooks.prepareIso.promise({ host: host.host, siteRoot: plan.flake.root });
  writeModules(plan);
  const removeDir = () => rmSync(plan.workDir, { recursive: true, force: true });
  const unregister = flk.onCleanup(removeDir);
  const results: IsoResult[] = [];
  try {
    for (const host of plan.hosts) results.push(await buildOne(flk, plan, host, request));
  } finally {
    unregister();
    removeDir();
  }
  return results;
}

/** Plan and build (the library entry point tests call). */
export async function buildIso(flk: Flk, request: IsoRequest): Promise<IsoResult[]> {
  return runIsoBuilds(flk, await planIso(flk, request), request);
}

async function buildOne(flk: Flk, plan: IsoPlan, host: HostPlan, request: IsoRequest): Promise<IsoResult> {
  const log = flk.logger("nix-iso");
  log.start(`building the live ISO of ${host.host} with nix (logs follow)`);
  const argv = nixBuildArgv(host.build, plan.info);
  const running = run(argv, { stdio: "stream", env: request.env ?? flk.env, signal: flk.signal, keepLines: 30 });
  // On SIGINT/SIGTERM run() sends nix SIGTERM; this cleanup (run before the
  // module dir's, and before flk re-raises) waits for nix to be gone, so
  // neither nix nor its builder outlives flk (bounded: nix may ignore it).
  const unregister = flk.onCleanup(() => untilSettled(running, NIX_STOP_GRACE_MS, () => log.warn(`nix did not stop within ${NIX_STOP_GRACE_MS / 1000} s of being told to; it may still be running`)));
  let result: Awaited<typeof running>;
  try {
    result = await running;
  } finally {
    unregister();
  }
  if (flk.signal.aborted) throw flk.signal.reason;
  if (result.code !== 0)
    throw new FlkError(
      `nix build of the ISO for ${host.host} failed (exit ${result.code}). Nix's last lines:\n${result.tail.slice(-20).join("\n")}`,
      "E_NIX_BUILD",
      ExitCode.failure,
    );
  const iso = findIso(host.build.outLink);
  const size = statSync(iso).size;
  const sha256 = await sha256File(iso);
  for (const note of host.module.notes) log.info(note);
  return { host: host.host, iso, size, sha256 };
}

/** How long an interrupted flk waits for nix to stop before it gives up waiting. */
const NIX_STOP_GRACE_MS = 10_000;

/** Resolve once `work` settles (either way), or after `ms` with `onTimeout` called. */
function untilSettled(work: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(() => {
      onTimeout();
      done();
    }, ms);
    const finish = () => {
      clearTimeout(timer);
      done();
    };
    work.then(finish, finish);
  });
}

/** The single .iso under OUT/iso/ (nixpkgs puts the image there). */
export function findIso(outLink: string): string {
  const dir = join(outLink, "iso");
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".iso") || n.endsWith(".iso.zst"));
  } catch (error) {
    throw new FlkError(`nix built ${outLink}, but it has no iso/ directory: is nixosConfigurations.HOST a NixOS system with isoImage?`, "E_NO_ISO", ExitCode.failure, { cause: error });
  }
  if (names.length !== 1) throw new FlkError(`expected one image in ${dir}, found ${names.length ? names.join(", ") : "none"}`, "E_NO_ISO", ExitCode.failure);
  return join(dir, names[0]!);
}

function outLinkFor(cwd: string, given: string | undefined, host: string, count: number): string {
  const base = resolve(cwd, given ?? "result");
  return count > 1 ? `${base}-${host}` : base;
}

function checkCopyTo(copyTo: string): void {
  if (!isAbsolute(copyTo) || copyTo.split("/").includes("..") || copyTo === "/")
    throw new FlkError(`flk.toml: [nix-iso] copyTo: expected an absolute directory like /iso/devos, got '${copyTo}'`, "E_CONFIG_VALUE");
}

/** Create the plan's private temp dir; it must not exist yet (its name carries random bytes). */
function makePrivateDir(dir: string): void {
  mkdirSync(dir, { mode: 0o700 });
}

/** A path for people: relative to `cwd` when inside it. */
export function displayPath(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") ? rel : path;
}
