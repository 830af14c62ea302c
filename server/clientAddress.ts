import type { IncomingMessage } from 'node:http'
import { isIPv4, isIPv6 } from 'node:net'
import proxyAddr from '@fastify/proxy-addr'

/** `startServer`'s `trustProxy`: the number of proxies in front, or their addresses. */
export type TrustProxy = number | string | string[]

/**
 * Fastify's `trustProxy` for ours. A hop count as proxy-addr takes it (Fastify does the same with a number, which its
 * types leave out): the hops nearest to us are trusted, so the client is the address that many hops away.
 */
export function trustProxyOf(trust: TrustProxy | undefined) {
  if (trust === undefined) return false
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust
  return trust
}

/**
 * The client address of a raw request, as Fastify's `request.ip` reads it (the same proxy-addr, the same trust): for
 * Engine.IO's requests, which never reach Fastify.
 *
 * @example const addressOf = requestAddress(1); addressOf(req) // the address X-Forwarded-For's last hop names
 */
export function requestAddress(trust: TrustProxy | undefined): (req: IncomingMessage) => string {
  const trusted = trustProxyOf(trust)
  if (trusted === false) return (req) => req.socket.remoteAddress ?? 'unknown'
  const check =
    typeof trusted === 'function'
      ? trusted
      : proxyAddr.compile(typeof trusted === 'string' ? trusted.split(',').map((item) => item.trim()) : trusted)
  return (req) => proxyAddr(req, check)
}

/**
 * The key a client address is counted under (login throttling): an IPv4 address as it is; an IPv6 address by its
 * /64 prefix, in one spelling (one client usually holds a whole /64, and `2001:DB8::1`, `2001:db8:0:0:0:0:0:1` are one
 * address); an IPv4-mapped IPv6 address (`::ffff:203.0.113.9`) as its IPv4 address. Anything else (not an address) is
 * kept, lower-cased.
 *
 * @example addressKey('2001:DB8:0:7::1') // '2001:db8:0:7::/64'
 * @example addressKey('::ffff:203.0.113.9') // '203.0.113.9'
 */
export function addressKey(address: string): string {
  const text = address.trim()
  if (isIPv4(text)) return text
  const groups = isIPv6(text) ? ipv6Groups(text) : undefined
  if (!groups) return text.toLowerCase()
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high, low] = [groups[6]!, groups[7]!]
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.')
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`
}

/** The eight 16-bit groups of a valid IPv6 address (`isIPv6`), `::` expanded, an IPv4 tail and a zone id read. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.split('%')[0]!
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1]
  if (tail) {
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number]
    text = `${text.slice(0, -tail.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const halves = text.split('::')
  const read = (part: string | undefined) => (part ? part.split(':').map((group) => Number.parseInt(group, 16)) : [])
  const head = read(halves[0])
  const rest = read(halves[1])
  const missing = 8 - head.length - rest.length
  if (halves.length > 2 || missing < 0 || (halves.length === 1 && missing !== 0)) return undefined
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest]
  return groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : undefined
}
