/**
 * Which webhook targets hubmill may call. Only http and https. Cloud metadata
 * endpoints and link-local addresses are always refused; loopback and private
 * addresses only when the admin allows them (HUBMILL_WEBHOOK_ALLOW: host names,
 * addresses or CIDRs). Names are checked as written when the schedule is saved,
 * and every address they resolve to is checked again at each delivery (see
 * webhook.ts, which connects only to an address that passed).
 */
import { BlockList, isIP } from 'node:net';
import { WebhookRefusedError } from './schedule-errors.js';

const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'metadata.azure.com', 'instance-data', 'instance-data.ec2.internal']);
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', 'fd00:ec2::254']);

function blockList(cidrs: [string, number][]): BlockList {
  const b = new BlockList();
  for (const [net, prefix] of cidrs) b.addSubnet(net, prefix, isIP(net) === 6 ? 'ipv6' : 'ipv4');
  return b;
}

const LINK_LOCAL = blockList([['169.254.0.0', 16], ['fe80::', 10]]);
const LOOPBACK = blockList([['127.0.0.0', 8], ['::1', 128]]);
const PRIVATE = blockList([
  ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['100.64.0.0', 10], ['0.0.0.0', 8],
  ['fc00::', 7], ['::', 128], ['224.0.0.0', 4], ['240.0.0.0', 4], ['ff00::', 8],
]);

/** The admin's exceptions: exact host names, and addresses/CIDRs. */
export class WebhookAllowList {
  readonly hosts: ReadonlySet<string>;
  private readonly nets = new BlockList();
  private readonly empty: boolean;

  constructor(entries: readonly string[]) {
    const hosts = new Set<string>();
    for (const raw of entries) {
      const e = raw.trim().toLowerCase();
      if (e === '') continue;
      const m = /^([^/]+)\/(\d{1,3})$/.exec(e);
      const ip = m ? m[1]! : e.replace(/^\[|\]$/g, '');
      const family = isIP(ip);
      if (family) {
        const prefix = m ? Number(m[2]) : family === 4 ? 32 : 128;
        this.nets.addSubnet(ip, prefix, family === 6 ? 'ipv6' : 'ipv4');
      } else if (m) {
        throw new WebhookRefusedError(`HUBMILL_WEBHOOK_ALLOW: '${raw}' is not a CIDR`);
      } else hosts.add(e);
    }
    this.hosts = hosts;
    this.empty = entries.every((e) => e.trim() === '');
  }

  allowsAddress(addr: string): boolean {
    if (this.empty) return false;
    const family = isIP(addr);
    return family !== 0 && this.nets.check(addr, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** `::ffff:10.0.0.1` → `10.0.0.1`, so mapped addresses meet the IPv4 rules. */
function unmap(addr: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m ? m[1]! : addr;
}

/** Throws WebhookRefusedError unless hubmill may connect to this address (reached through `host`). */
export function checkAddress(address: string, host: string, allow: WebhookAllowList): void {
  const a = unmap(address.replace(/^\[|\]$/g, '').toLowerCase());
  const type = isIP(a) === 6 ? 'ipv6' : 'ipv4';
  if (METADATA_ADDRESSES.has(a)) throw new WebhookRefusedError(`webhook target ${host} (${a}) is a cloud metadata endpoint`);
  if (LINK_LOCAL.check(a, type)) throw new WebhookRefusedError(`webhook target ${host} (${a}) is link-local`);
  const kind = LOOPBACK.check(a, type) ? 'loopback' : PRIVATE.check(a, type) ? 'private' : null;
  if (kind && !allow.hosts.has(host.toLowerCase()) && !allow.allowsAddress(a)) {
    throw new WebhookRefusedError(`webhook target ${host} (${a}) is a ${kind} address; an admin can allow it with HUBMILL_WEBHOOK_ALLOW`);
  }
}

/** Checks a webhook URL as written (scheme, name, literal address); returns it parsed. */
export function checkWebhookUrl(raw: string, allow: WebhookAllowList): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookRefusedError(`webhook_url '${raw}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebhookRefusedError(`webhook_url must be http or https, not ${url.protocol.replace(/:$/, '')}`);
  if (url.username || url.password) throw new WebhookRefusedError('webhook_url must not carry credentials; the payload is signed instead');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_HOSTS.has(host)) throw new WebhookRefusedError(`webhook target ${host} is a cloud metadata endpoint`);
  if (isIP(host)) checkAddress(host, host, allow);
  else if ((host === 'localhost' || host.endsWith('.localhost')) && !allow.hosts.has(host)) {
    throw new WebhookRefusedError(`webhook target ${host} is a loopback address; an admin can allow it with HUBMILL_WEBHOOK_ALLOW`);
  }
  return url;
}
