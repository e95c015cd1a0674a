import { definePlugin } from "../../core/index.ts";

/** mdns: the live ISO announces HOST.local; `flk resolve` finds it. */
export default definePlugin({
  name: "mdns",
  description: "Announce HOST.local from the live ISO and resolve it (flk resolve)",
  options: {
    backend: { type: "string", default: "resolved", enum: ["resolved", "avahi"], description: "mDNS responder on the live ISO" },
  },
  apply() {},
});
