/**
 * The public surface for plugins: a plugin imports only from here.
 */
export { FlkError, ExitCode, isFlkError, messageOf } from "./errors.ts";
export { definePlugin, ownOptions, type FlkPlugin, type OptionsOf, type OptionsSchema, type OptionSpec } from "./plugin.ts";
export type { Flk, GlobalFlags, Cleanup } from "./context.ts";
export type { CommandRegistry, IsoModule, HostContext, LocateQuery, LocateReport, Endpoint, SshTarget, SshFailure, Hooks } from "./hooks.ts";
export { addCommands, pluginHooks, type LazyCommandEntry } from "./hooks.ts";
export { LIVE_USER, LIVE_NETWORK, baseLiveInstaller, matchNames, type LiveInstaller, type NetworkUnit } from "./live.ts";
export { reach, locate, liveInstaller, parseTarget, parseUser, sshFlags, SSH_FLAG_ARGS, PREFER_MS, type ReachOptions, type Reached, type TargetSpec, type LocateRequest } from "./reach.ts";
export { nix, renderNix, renderString, renderKey, mergeSettings, collectPaths, nixInfo, isRaw, isPath, pathOf, type NixValue, type NixInfo } from "./nix.ts";
export { run, runChecked, spawn, spawnSync, which, requireProgram, providerOf, type RunOptions, type RunResult } from "./exec.ts";
export { createProgress, progressMode, formatBytes, formatDuration, formatLine, type Progress, type ProgressMode } from "./progress.ts";
export { checkHosts, checkHost, hostsDirOf, type CheckHostsOptions } from "./hosts.ts";
export { siteFlake, flakeHostNames, type SiteFlake } from "./flake.ts";
export { listHosts, findSiteRoot, requireSiteRoot, resolveHost, checkSiteOwned, checkSitePath, type HostEntry, type ResolveHostOptions } from "./site.ts";
export { writeFileAtomic, removeFileDurable, lexists } from "./atomic.ts";
export { trustedOwners, ownersText, ownerProblem, ownerProblemText, type OwnerProblem } from "./owner.ts";
export { closest, didYouMean } from "./suggest.ts";
export { defineCommand } from "./command.ts";
export { sha256File, sha256Fd } from "./hash.ts";
export { parseMountinfo, parseMountinfoLine, readMountinfo, readAllMountinfo, unescapeMount, fsLocation, reachableWithin, type MountEntry, type FsLocation } from "./mountinfo.ts";
export { readSysBlocks, readUsage, parseSwaps, devString, nameOfDev, rdevOf, type SysBlock, type Usage } from "./blockdev.ts";
export { lsblk, parseLsblk, type LsblkDevice } from "./lsblk.ts";
export {
  judgeDisk, listDisks, describeDisk, assess, usesOf, isLoop, mayWrite, systemView, withImage, loopsBackedByFile, disksOfFile, disksOfDev, proveOpened, targetChanged, busyRefusal, claimDisk,
  type Disk, type Verdict, type Assessment, type SystemView, type FileId, type JudgeOptions,
} from "./disks.ts";
export { diskseqOfFd, loopStatusOfFd, tryLockExclusive, type LoopStatus } from "./kernel.ts";
export { shQuote, shJoin } from "./shell.ts";
export {
  parseIPv6, formatIPv6, formatIPv6Bytes, canonicalIPv6, isLinkLocal, isLinkLocalText, inPrefix6, parseIPv4, parseLiteralAddress, unicastProblem, linkProblem, withScope,
  type Groups, type ScopedAddress, type LinkState,
} from "./net.ts";
