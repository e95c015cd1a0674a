import { definePlugin } from "../../core/index.ts";

/** ssh-keys: authorized keys into the ISO, a pinned host key, and `flk ssh`. */
export default definePlugin({
  name: "ssh-keys",
  description: "Authorized keys and a pinned host key in the ISO (flk keys, flk ssh)",
  options: {
    users: { type: "string[]", default: ["nixos"], description: "Live-system users that get the keys (add \"root\" if needed)" },
    keyFiles: { type: "string[]", default: [], description: "Extra site-relative public key files" },
    pinHostKey: { type: "boolean", default: true, description: "Give the live ISO a fixed sshd host key that flk ssh verifies" },
  },
  requires: { programs: { ssh: "flk ssh", "ssh-keygen": "host keys" } },
  apply() {},
});
