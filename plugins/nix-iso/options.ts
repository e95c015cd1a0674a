/** nix-iso's options (declared in index.ts, resolved from flk.toml). */
export interface NixIsoOptions {
  /** Directory of hosts/*.nix, site-relative. */
  hosts: string;
  /** Where the flake source appears on the live system. */
  copyTo: string;
}
