import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";
import ipaddr from "ipaddr.js";

/*
 * Where webhooks may go (issue 23): http(s) URLs without credentials, to public addresses only —
 * private, loopback, link-local, carrier-grade NAT, multicast and reserved ranges are refused
 * (the cloud metadata service at 169.254.169.254 among them) unless WEBHOOK_ALLOW_PRIVATE=true.
 * A URL is checked when an endpoint is saved (literal addresses and `localhost`), and every
 * connection is checked again on the address DNS gave (`guardedLookup`), so a name that resolves
 * to a private address later (DNS rebinding) is refused before any connection too.
 */

/** Why a URL or an address is refused, or undefined when it is allowed. */
export type Refusal = string | undefined;

const V4_COMPATIBLE = new BlockList();
V4_COMPATIBLE.addSubnet("::", 96, "ipv6");

/** Whether an address (IPv4 or IPv6, IPv4-mapped included) is public unicast. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  // IPv4-compatible IPv6 (::/96, deprecated) is refused like the other special ranges (issue 35).
  // Node's parser decides what `::a.b.c.d` is, as the connection will: ipaddr.js reads it as
  // IPv4-mapped, which would let `::8.8.8.8` pass as 8.8.8.8.
  if (isIP(address) === 6 && V4_COMPATIBLE.check(address, "ipv6")) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range() === "unicast";
}

function addressRefusal(address: string): Refusal {
  return isPublicAddress(address) ? undefined : `${address} is not a public address`;
}

/** Checks a webhook URL as given. Names other than localhost are checked at each connection. */
export function urlRefusal(raw: string, allowPrivate: boolean): Refusal {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an http or https URL";
  if (url.username || url.password) return "must not carry credentials";
  if (url.hash) return "must not have a fragment";
  if (allowPrivate) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost")) return "localhost is not a public address";
  return isIP(host) ? addressRefusal(host) : undefined;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http.request that refuses private addresses (all of them, when a name has several).
 * With `allowPrivate` it is dns.lookup itself.
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: object, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "");
      const list = addresses as LookupAddress[];
      const refused = allowPrivate ? undefined : list.map((a) => addressRefusal(a.address)).find(Boolean);
      if (refused) {
        // Never which address: a delivery error is shown to admins and must not map the network
        // the pipeline runs in (issue 35).
        const error = Object.assign(
          new Error(`refused: ${hostname} resolves to an address that is not public`),
          {
            code: "EADDRREFUSED",
          },
        );
        return callback(error, "");
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      const first = list[0];
      if (!first)
        return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "");
      callback(null, first.address, first.family);
    });
  };
}
