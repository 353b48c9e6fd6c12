/**
 * Which addresses the gateway may fetch a client's URL from (CONTRACT.md §5): public unicast only,
 * unless the operator trusts a host or range (`GATEWAY_FETCH_ALLOW`).
 */
import { BlockList, isIP } from "node:net";

const NON_PUBLIC_V4 = [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16],
  ["172.16.0.0", 12], ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16],
  ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const;

const NON_PUBLIC_V6 = [
  ["::", 128], ["::1", 128], ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["100::", 64], ["2001::", 23],
  ["2001:db8::", 32], ["2002::", 16], ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8],
] as const;

const blocked = new BlockList();
for (const [network, prefix] of NON_PUBLIC_V4) blocked.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of NON_PUBLIC_V6) blocked.addSubnet(network, prefix, "ipv6");
const globalUnicastV6 = new BlockList();
globalUnicastV6.addSubnet("2000::", 3, "ipv6");

/** `::ffff:a.b.c.d` (in any spelling) → `a.b.c.d`; anything else unchanged. */
export function unmapIPv4(address: string): string {
  if (isIP(address) !== 6) return address;
  const normalized = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(normalized);
  if (!mapped) return normalized;
  const high = parseInt(mapped[1] ?? "0", 16);
  const low = parseInt(mapped[2] ?? "0", 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}

/** True for a public unicast address that the internet could route to. */
export function isPublicAddress(address: string): boolean {
  const plain = unmapIPv4(address);
  const family = isIP(plain);
  if (family === 4) return !blocked.check(plain, "ipv4");
  if (family === 6) return globalUnicastV6.check(plain, "ipv6") && !blocked.check(plain, "ipv6");
  return false;
}

/** Operator-trusted hosts and ranges: `GATEWAY_FETCH_ALLOW=images.internal,10.1.0.0/16,fd00::/8`. */
export class AllowList {
  private readonly hosts = new Set<string>();
  private readonly ranges = new BlockList();
  private hasRanges = false;

  constructor(entries: readonly string[] = []) {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase();
      if (!entry) continue;
      const [network, prefix] = entry.split("/");
      const family = isIP(network ?? "");
      if (family && prefix !== undefined) {
        this.ranges.addSubnet(network as string, Number(prefix), family === 4 ? "ipv4" : "ipv6");
        this.hasRanges = true;
      } else if (family) {
        this.ranges.addAddress(network as string, family === 4 ? "ipv4" : "ipv6");
        this.hasRanges = true;
      } else {
        this.hosts.add(entry);
      }
    }
  }

  allowsHost(hostname: string): boolean {
    return this.hosts.has(hostname.toLowerCase());
  }

  allowsAddress(address: string): boolean {
    if (!this.hasRanges) return false;
    const plain = unmapIPv4(address);
    const family = isIP(plain);
    return family !== 0 && this.ranges.check(plain, family === 4 ? "ipv4" : "ipv6");
  }
}
