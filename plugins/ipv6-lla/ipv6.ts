/**
 * The configured static address, checked at the edge. IPv6 text itself
 * (RFC 4291 in, RFC 5952 out) and the link-local test live in core/net.ts.
 */
import { FlkError, formatIPv6, isLinkLocal, parseIPv6 } from "../../core/index.ts";

/**
 * The configured static address, checked and canonical (`FE80:0::47` → `fe80::47`).
 * `where` names the setting for the message, e.g. `flk.toml [ipv6-lla] address`.
 */
export function staticAddress(text: string, where = "[ipv6-lla] address"): string {
  const groups = parseIPv6(text.trim());
  if (!groups || !isLinkLocal(groups) || groups.slice(4).every((g) => g === 0))
    throw new FlkError(
      `${where}: expected an IPv6 link-local address like fe80::47 (in fe80::/10, with a non-zero interface part, no /prefix or %scope), got '${text}'. Nothing was changed.`,
      "E_LLA_ADDRESS",
    );
  return formatIPv6(groups);
}
