/**
 * `flk iso`: plan every requested host (all checks, nothing built), then
 * build each with the real nix, hash the image and report it.
 */
import { existsSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { ExitCode, FlkError, flakeHostNames, nixInfo, run, sha256File, which, type Flk, type IsoModule, type NixInfo } from "../../core/index.ts";
import { attrArg, attrsExprText, attrsFileText, nixBuildArgv, nixBuildExprArgv, outLinkOf, type NixBuildPlan } from "./command.ts";
import { checkSiteFiles, lastLines, siteFlake, siteInputs, type SiteFlake } from "./flake.ts";
import { pickHosts, siteHosts } from "./hosts.ts";
import { isoTarget, ownContribution, referencedFiles, renderModule } from "./module.ts";
import { nixIsoOptions } from "./options.ts";

/** What `flk iso` was asked for. */
export interface IsoRequest {
  /** Host names; or `all`. */
  hosts?: readonly string[];
  all?: boolean;
  /** Out-link of the first host, relative to the working directory (default `result`; nix names the others OUT-1, OUT-2, …). */
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
  /** Absolute path the module file is written to. */
  moduleFile: string;
  /** This host's out-link. */
  outLink: string;
}

/** Every host of a request, checked and rendered. */
export interface IsoPlan {
  flake: SiteFlake;
  info: NixInfo;
  hosts: HostPlan[];
  /** The one nix build of every host. */
  build: NixBuildPlan;
  /** Directory of the rendered module files and the attribute file. */
  workDir: string;
}

/** One built image. */
export interface IsoResult {
  host: string;
  /** Absolute path of the image, through the out-link. */
  iso: string;
  size: number;
  sha256: string;
  /** Absolute out-link of this host (`result`, `result-1`, …). */
  outLink: string;
}

/**
 * The `flk iso --json` document, one shape for a build and a dry run
 * (README, `flk iso` "--json output"): a dry run has the same keys with nothing built
 * yet (`iso`, `size`, `sha256` null). `argv` is the one nix command of the
 * plan with the modules inline, as --dry-run prints it; `failed` names the
 * hosts nix could not build (the error document follows).
 */
export interface IsoJson {
  dryRun: boolean;
  argv: string[];
  hosts: Array<{ host: string; outLink: string; iso: string | null; size: number | null; sha256: string | null }>;
  failed: string[];
}

/** The --json document of a plan: `results` for a build (what was built), none for a dry run. */
export function isoJson(plan: IsoPlan, results?: readonly IsoResult[], failed: readonly string[] = []): IsoJson {
  const hosts = results
    ? results.map((r) => ({ host: r.host, outLink: r.outLink, iso: r.iso, size: r.size, sha256: r.sha256 }))
    : plan.hosts.map((h) => ({ host: h.host, outLink: h.outLink, iso: null, size: null, sha256: null }));
  return { dryRun: !results, argv: planArgv(plan), hosts, failed: [...failed] };
}

/** Check everything and render each host's module; nothing is built or written (modules go to a temp dir on write). */
export async function planIso(flk: Flk, request: IsoRequest): Promise<IsoPlan> {
  const options = nixIsoOptions.of(flk);
  isoTarget(options.copyTo);
  const root = flk.siteRoot();
  const env = request.env ?? flk.env;
  const info = await nixInfo();
  const flake = await siteFlake(root);
  const picked = await pickHosts(flk, flake, request.hosts ?? [], request.all ?? false, env);
  const inputs = await siteInputs(flake, info, env);
  const flkBinary = compiledFlk();
  const workDir = join(tmpdir(), `flk-iso-${randomBytes(6).toString("hex")}`);
  const outLink = resolve(flk.cwd, request.outLink ?? "result");
  const hosts: HostPlan[] = [];
  const referenced: string[] = [];
  for (const [index, name] of picked.entries()) {
    const seed = ownContribution(name, options.copyTo, { inputs, flkBinary });
    const module = await flk.hooks.isoModule.promise(seed, { host: name, siteRoot: root });
    referenced.push(...referencedFiles(module));
    hosts.push({
      host: name,
      module,
      text: renderModule(module, name, flake, flkBinary),
      moduleFile: join(workDir, `${index}.nix`),
      outLink: outLinkOf(outLink, index),
    });
  }
  // After every host's waterfall, so one message (and one `git add`) covers
  // the files of all hosts, e.g. host keys a plugin created for each.
  await checkSiteFiles(flake, referenced);
  const build: NixBuildPlan = {
    ref: flake.ref,
    hosts: hosts.map((h) => ({ host: h.host, moduleFile: h.moduleFile })),
    attrsFile: join(workDir, "isos.nix"),
    outLink,
    extraArgs: request.extraArgs ?? flk.passthrough,
  };
  return { flake, info, hosts, build, workDir };
}

/**
 * The path of the running flk when it is the compiled binary (`bun build
 * --compile` serves its own modules from /$bunfs/), so the ISO can carry it;
 * undefined when flk runs from source (`bun bin/flk.ts`).
 */
export function compiledFlk(): string | undefined {
  if (!Bun.main.startsWith("/$bunfs/")) return undefined;
  // Started through an explicit loader (the stick's wrapper; by hand on a
  // NixOS machine), the executable is the loader: the program is argv[0].
  if (/^ld-.*\.so/.test(basename(process.execPath))) return process.argv0.includes("/") ? resolve(process.argv0) : which(process.argv0);
  return process.execPath;
}

/** The one nix argv of the plan as --dry-run prints it: the modules inline (`--expr`), so it runs without any file flk would have to write. */
export function planArgv(plan: IsoPlan): string[] {
  return nixBuildExprArgv(plan.build, plan.info, attrsExprText(plan.build.ref, plan.hosts));
}

/** Write the rendered modules and the attribute file to the plan's temp dir (so the printed or run command finds them). */
export function writeModules(plan: IsoPlan): void {
  makePrivateDir(plan.workDir);
  for (const host of plan.hosts) writeFileSync(host.moduleFile, host.text);
  writeFileSync(plan.build.attrsFile, attrsFileText(plan.build.ref, plan.build.hosts));
}

/**
 * Build every planned host with one nix process; `report` sees each built
 * image. When hosts fail, the others still finish (--keep-going) and get
 * their links; then a FlkError names each failed host and why.
 */
export async function runIsoBuilds(
  flk: Flk,
  plan: IsoPlan,
  request: IsoRequest = {},
  report: (result: IsoResult) => void = () => {},
  done: (results: IsoResult[], failed: string[]) => void = () => {},
): Promise<IsoResult[]> {
  // Side effects a real build needs (e.g. the installer host key): never run by --print-module or --dry-run.
  for (const host of plan.hosts) await flk.hooks.prepareIso.promise({ host: host.host, siteRoot: plan.flake.root });
  writeModules(plan);
  const removeDir = () => rmSync(plan.workDir, { recursive: true, force: true });
  const unregister = flk.onCleanup(removeDir);
  const env = request.env ?? flk.env;
  const log = flk.logger("nix-iso");
  try {
    log.start(`building the live ISO of ${plan.hosts.map((h) => h.host).join(", ")} with one nix build (logs follow)`);
    const first = await runNix(flk, nixBuildArgv(plan.build, plan.info), env);
    let failures = new Map<string, string>();
    let built = plan.hosts;
    if (first.code !== 0) ({ built, failures } = await sortOutFailures(flk, plan, env, first.code, first.tail));
    built = await withLinks(flk, plan, built, env);
    const results: IsoResult[] = [];
    for (const host of built) {
      const result = await describeImage(host);
      for (const note of host.module.notes) log.info(note);
      results.push(result);
      report(result);
    }
    if (failures.size > 0 && results.length === 0) await refuseMissingConfigurations(flk, plan, failures, env);
    done(results, [...failures.keys()]);
    if (failures.size > 0) {
      const lines = [...failures].map(([host, why]) => `${host}:\n${why.replace(/^/gm, "  ")}`);
      const done = results.length ? ` Built: ${results.map((r) => `${r.host} (${displayPath(flk.cwd, r.iso)})`).join(", ")}.` : "";
      throw new FlkError(
        `nix could not build the ISO of ${[...failures.keys()].join(", ")}.${done} Nix's last lines for each:\n${lines.join("\n")}`,
        "E_NIX_BUILD",
        ExitCode.failure,
      );
    }
    return results;
  } finally {
    unregister();
    removeDir();
  }
}

/** Plan and build (the library entry point tests call). */
export async function buildIso(flk: Flk, request: IsoRequest): Promise<IsoResult[]> {
  return runIsoBuilds(flk, await planIso(flk, request), request);
}

/** Run nix (streamed), stopping it with flk on SIGINT/SIGTERM. */
async function runNix(flk: Flk, argv: string[], env: Record<string, string | undefined>) {
  const log = flk.logger("nix-iso");
  const running = run(argv, { stdio: "stream", env, signal: flk.signal, keepLines: 60 });
  // On SIGINT/SIGTERM run() sends nix SIGTERM; this cleanup (run before the
  // module dir's, and before flk re-raises) waits for nix to be gone, so
  // neither nix nor its builder outlives flk (bounded: nix may ignore it).
  const unregister = flk.onCleanup(() => untilSettled(running, NIX_STOP_GRACE_MS, () => log.warn(`nix did not stop within ${NIX_STOP_GRACE_MS / 1000} s of being told to; it may still be running`)));
  try {
    const result = await running;
    if (flk.signal.aborted) throw flk.signal.reason;
    return result;
  } finally {
    unregister();
  }
}

/**
 * After a failed build: which hosts failed and why. nix 2.8 links nothing
 * when any installable fails, so each host is evaluated on its own (an
 * evaluation error names its host), the ones that evaluate are built again
 * if evaluation had stopped the first build, and the built ones are linked
 * with one more `nix build` (nothing left to build, so it only links).
 */
async function sortOutFailures(flk: Flk, plan: IsoPlan, env: Record<string, string | undefined>, first: number, tail: string[]) {
  const failures = new Map<string, string>();
  const outPaths = new Map<string, string>();
  for (const host of plan.hosts) {
    const evaluated = await run(["nix", ...plan.info.flags, "eval", "--impure", "--raw", "-f", plan.build.attrsFile, `${attrArg(host.host)}.outPath`], { env, signal: flk.signal });
    if (evaluated.code === 0) outPaths.set(host.host, evaluated.stdout.trim());
    else failures.set(host.host, lastLines(evaluated.stderr, 12));
  }
  const evaluable = plan.hosts.filter((h) => outPaths.has(h.host));
  const missing = () => evaluable.filter((h) => !existsSync(outPaths.get(h.host)!));
  if (failures.size > 0 && missing().length > 0) await runNix(flk, nixBuildArgv(plan.build, plan.info, missing().map((h) => h.host)), env);
  for (const host of missing()) failures.set(host.host, buildLines(tail, outPaths.get(host.host)!));
  // Every host evaluates and is built (e.g. by an earlier run), yet nix failed: nix refused the command itself (a bad flag after --).
  if (failures.size === 0)
    throw new FlkError(`nix build failed before building anything (exit ${first}). Nix's last lines:\n${tail.slice(-15).join("\n")}`, "E_NIX_BUILD", ExitCode.failure);
  const built = evaluable.filter((h) => !failures.has(h.host));
  if (built.length === 0) return { built, failures };
  // The links: nix numbers them by position, so link in the plan's order.
  const linked = await run(["nix", ...plan.info.flags, "build", "--out-link", plan.build.outLink, ...built.map((h) => outPaths.get(h.host)!)], { env, signal: flk.signal });
  if (linked.code !== 0) throw new FlkError(`nix built ${built.map((h) => h.host).join(", ")} but could not link them:\n${lastLines(linked.stderr, 10)}`, "E_NIX_BUILD", ExitCode.failure);
  return { built, failures };
}

/**
 * Each built host with its out-link. nix numbers the links (OUT, OUT-1, …)
 * but not in the order the hosts were given, so each link is matched to
 * its host by the image's store name, `nixos-HOST-…` (the edition
 * ownContribution sets); when a host configuration renamed its image, by
 * the evaluated out paths instead.
 */
async function withLinks(flk: Flk, plan: IsoPlan, built: HostPlan[], env: Record<string, string | undefined>): Promise<HostPlan[]> {
  const targets = built.map((_, i) => outLinkOf(plan.build.outLink, i)).map((link) => ({ link, target: readLink(link) }));
  const byName = (host: string) =>
    targets.find(({ target }) => {
      const name = basename(target ?? "").replace(/^[a-z0-9]{32}-/, "");
      return name.startsWith(`nixos-${host}-`) && !built.some((o) => o.host.length > host.length && o.host.startsWith(host) && name.startsWith(`nixos-${o.host}-`));
    })?.link;
  if (built.every((h) => byName(h.host))) return built.map((h) => ({ ...h, outLink: byName(h.host)! }));
  const linked: HostPlan[] = [];
  for (const host of built) {
    const evaluated = await run(["nix", ...plan.info.flags, "eval", "--impure", "--raw", "-f", plan.build.attrsFile, `${attrArg(host.host)}.outPath`], { env, signal: flk.signal });
    const link = targets.find(({ target }) => target === evaluated.stdout.trim())?.link;
    if (!link) throw new FlkError(`nix built the ISO of ${host.host}, but none of its out-links points at it`, "E_NIX_BUILD", ExitCode.failure);
    linked.push({ ...host, outLink: link });
  }
  return linked;
}

function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/**
 * A host file whose flake has no nixosConfigurations entry is the user's
 * mistake, found before anything was built (the generated attribute file
 * throws for it): exit 2 with the configurations the flake does have.
 */
async function refuseMissingConfigurations(flk: Flk, plan: IsoPlan, failures: Map<string, string>, env: Record<string, string | undefined>): Promise<void> {
  const missing = [...failures].filter(([host, why]) => why.includes(`flk: the flake has no nixosConfigurations.${host}:`)).map(([host]) => host);
  if (missing.length === 0 || missing.length !== failures.size) return;
  const has = await flakeHostNames(plan.flake, env, plan.info);
  const hostsDir = nixIsoOptions.of(flk).hosts;
  const files = new Map(siteHosts(flk).map((h) => [h.name, h.file]));
  throw new FlkError(
    missing.map((host) => `${files.get(host) ?? `${hostsDir}/${host}.nix`} exists, but the flake has no nixosConfigurations.${host} (it has: ${has.join(", ") || "none"}).`).join(" ") +
      ` Nothing was built. Add ${missing.join(", ")} to nixosConfigurations in flake.nix.`,
    "E_NO_CONFIGURATION",
  );
}

/** Nix's log lines about one output's derivation (its name is in the store path), or the last lines. */
function buildLines(tail: string[], outPath: string): string {
  const name = outPath.replace(/^\/nix\/store\/[a-z0-9]+-/, "");
  const mine = tail.filter((line) => line.includes(name));
  return (mine.length ? mine : tail.slice(-10)).slice(-12).join("\n");
}

/** The image behind a host's out-link: path, size, sha256. */
async function describeImage(host: HostPlan): Promise<IsoResult> {
  const iso = findIso(host.outLink);
  return { host: host.host, iso, size: statSync(iso).size, sha256: await sha256File(iso), outLink: host.outLink };
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

/** Create the plan's private temp dir; it must not exist yet (its name carries random bytes). */
function makePrivateDir(dir: string): void {
  mkdirSync(dir, { mode: 0o700 });
}

/** A path for people: relative to `cwd` when inside it. */
export function displayPath(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") ? rel : path;
}
