/**
 * The installer's own hook: the install plan. Only the installer calls it,
 * so the installer declares it (STYLE.md §2, webpack's getCompilationHooks):
 * another plugin taps `installerHooks(flk).installSteps` to insert its steps,
 * and core never learns what a step is.
 */
import { AsyncSeriesWaterfallHook } from "tapable";
import { pluginHooks } from "../../core/index.ts";

/** One step of the install plan: data, so it can run here or over ssh and be printed by --dry-run. */
export interface Step {
  /** Stable id, e.g. `mount-root`; taps insert before/after by id. */
  id: string;
  title: string;
  /** The command to run (argv). */
  argv: string[];
  /** Text fed to the command's stdin (e.g. an sfdisk script); absent: no input. */
  input?: string;
  /** A command that exits 0 when the step is already done: then it is skipped (idempotence). */
  unless?: string[];
  /** The command that reverses the step, for `--undo` and failure advice. */
  undo?: string[];
}

/** What `installSteps` taps know about the install. */
export interface InstallContext {
  host: string;
  /** `SITE#HOST` flake reference handed to nixos-install. */
  flake: string;
  root: string;
  labels: Record<string, string>;
  /** `user@address` when the plan runs over ssh. */
  target?: string;
  uefi: boolean;
  storeOverlay: boolean;
  impure: boolean;
  /** Arguments after `--`, passed to nixos-install unchanged. */
  extraArgs: string[];
}

/** The installer's hooks of one flk instance, made on first use. */
export const installerHooks = pluginHooks(() => ({
  /** The ordered install plan: the base plan is the initial value; each tap returns the list with its steps inserted (by id). Called by the installer's planSteps() for `flk install` (also --dry-run/--script), before anything runs. */
  installSteps: new AsyncSeriesWaterfallHook<[Step[], InstallContext]>(["steps", "install"]),
}));
