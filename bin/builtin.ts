/**
 * What bin/flk.ts loads after its --version fast path, as one chunk: the CLI
 * and the built-in plugins. One import() instead of one per module: each
 * chunk of a --splitting build costs its own load (bench/startup.ts,
 * 2026-11-29: flk --help 1.55× → 1.45× the hello-world's CPU time).
 */
import type { FlkPlugin } from "../core/plugin.ts";
import nixIso from "../plugins/nix-iso/index.ts";
import ddWriter from "../plugins/dd-writer/index.ts";
import mdns from "../plugins/mdns/index.ts";
import ipv6Lla from "../plugins/ipv6-lla/index.ts";
import sshKeys from "../plugins/ssh-keys/index.ts";
import installer from "../plugins/installer/index.ts";

export { runCli } from "../core/cli.ts";

/** In the order they apply: locate taps run in plugin order (mdns before ipv6-lla). */
export const builtinPlugins: readonly FlkPlugin<any>[] = [nixIso, ddWriter, mdns, ipv6Lla, sshKeys, installer];
