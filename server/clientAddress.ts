import { isIPv4, isIPv6 } from 'node:net'

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
