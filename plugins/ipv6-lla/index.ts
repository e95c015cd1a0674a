import { definePlugin } from "../../core/index.ts";

/** ipv6-lla: fe80::47 and EUI-64 link-local addresses on the live ISO; `flk lla`. */
export default definePlugin({
  name: "ipv6-lla",
  description: "Static fe80::47 and EUI-64 link-local addresses (flk lla)",
  options: {
    address: { type: "string", default: "fe80::47", description: "Static link-local address of the live ISO (n=14 i=9 x=24; 47 = n+i+x)" },
    eui64: { type: "boolean", default: true, description: "Also derive the link-local address from the MAC (EUI-64)" },
  },
  requires: { programs: { ip: "reading the neighbour table", ping: "waking neighbours on ff02::1" } },
  apply() {},
});
