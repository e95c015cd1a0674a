/** `flk keys add|list|rm`: thin argv wrappers over add.ts, list.ts and remove.ts. */
import { defineCommand, type Flk } from "../../../core/index.ts";
import { addKeys, readSource } from "../add.ts";
import { keyJson, keyLine, keyTable, listKeys } from "../list.ts";
import { removeKey } from "../remove.ts";

/** The options of the ssh-keys plugin that these commands read. */
export interface KeysConfig {
  keyFiles: string[];
}

/** The `flk keys` command with its add, list and rm subcommands. */
export function keysCommand(flk: Flk, config: KeysConfig) {
  const add = defineCommand({
    meta: { name: "add", description: "Validate public keys (FILE, or - / a pipe for stdin) and store them under secrets/keys/NAME.pub" },
    args: {
      file: { type: "positional", required: false, description: "A public key file (one or many lines), or - for stdin (the default when stdin is not a terminal)", valueHint: "FILE|-" },
      name: { type: "string", description: "Store under secrets/keys/NAME.pub (default: the key's comment)", valueHint: "NAME" },
      "allow-weak": { type: "boolean", description: "Accept RSA keys under 2048 bits" },
      "git-add": { type: "boolean", description: "Run git add on the written file so Nix sees it" },
    },
    async run({ args }) {
      const file = args.file as string | undefined;
      const text = await readSource(file, flk.cwd);
      const added = await addKeys(flk, { text, source: file ?? "-", name: args.name, allowWeak: args["allow-weak"], gitAdd: args["git-add"], keyFiles: config.keyFiles });
      if (flk.flags.json) return flk.printJson(added.map(keyJson));
      for (const entry of added) {
        process.stdout.write(`added ${keyLine(entry)}\n`);
        for (const risk of entry.risky) flk.logger("ssh-keys").warn(`${entry.name}: option ${risk}`);
      }
    },
  });
  const list = defineCommand({
    meta: { name: "list", description: "List stored keys with ssh-keygen -lf fingerprints (--json for machines)" },
    run() {
      const keys = listKeys(flk, config.keyFiles);
      if (flk.flags.json) return flk.printJson(keys.map(keyJson));
      if (keys.length === 0) flk.logger("ssh-keys").info("no keys stored yet: flk keys add ~/.ssh/id_ed25519.pub");
      process.stdout.write(keyTable(keys));
    },
  });
  const rm = defineCommand({
    meta: { name: "rm", description: "Remove secrets/keys/NAME.pub (durably)" },
    args: {
      name: { type: "positional", required: true, description: "The key name, as `flk keys list` shows it", valueHint: "NAME" },
      "git-add": { type: "boolean", description: "Stage the removal in git (git rm --cached)" },
    },
    async run({ args }) {
      const removed = await removeKey(flk, args.name, { gitAdd: args["git-add"], keyFiles: config.keyFiles });
      if (flk.flags.json) return flk.printJson(removed.map(keyJson));
    },
  });
  return defineCommand({
    meta: { name: "keys", description: "Public keys that may log in to the live installer (add, list, rm)" },
    subCommands: { add, list, rm },
  });
}
