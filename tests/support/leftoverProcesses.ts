import { readFileSync, readdirSync } from 'node:fs'

/** One process of the machine's table: its parent, its state letter (`R`, `S`, `Z`, …) and its command line. */
export interface ProcessEntry {
  pid: number
  ppid: number
  state: string
  command: string
}

/**
 * Every process under `root` (children, their children, …), parents before their children. Pure.
 *
 * @example descendantsOf(1, [{ pid: 2, ppid: 1, command: 'a' }, { pid: 3, ppid: 2, command: 'b' }]) // both
 */
export function descendantsOf(root: number, table: readonly ProcessEntry[]): ProcessEntry[] {
  const found: ProcessEntry[] = []
  const parents = new Set([root])
  // Breadth first: a pid is reached only through its parent, so a reused or cyclic table cannot loop.
  for (let layer = table.filter((entry) => entry.ppid === root); layer.length > 0; ) {
    for (const entry of layer) {
      found.push(entry)
      parents.add(entry.pid)
    }
    const inLayer = new Set(layer.map((entry) => entry.pid))
    layer = table.filter((entry) => inLayer.has(entry.ppid) && !parents.has(entry.pid))
  }
  return found
}

/**
 * The name, state and parent pid in a `/proc/<pid>/stat` line (fields 2–4), the last two read after the name's last
 * `)`, since the name may itself hold spaces and parentheses. Pure.
 *
 * @example readStat('42 (node) S 7 42 42 0 -1') // { name: 'node', state: 'S', ppid: 7 }
 */
export function readStat(stat: string): { name: string; state: string; ppid: number } | undefined {
  const open = stat.indexOf('(')
  const close = stat.lastIndexOf(')')
  if (open < 0 || close < open) return undefined
  const [state, ppid] = stat.slice(close + 2).split(' ')
  if (!state || !/^[A-Za-z]$/.test(state) || !ppid || !/^\d+$/.test(ppid)) return undefined
  return { name: stat.slice(open + 1, close), state, ppid: Number(ppid) }
}

/** The machine's processes from `/proc`; undefined where there is none (not Linux). */
export function readProcessTable(): ProcessEntry[] | undefined {
  let names: string[]
  try {
    names = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return undefined
  }
  const table: ProcessEntry[] = []
  for (const name of names) {
    try {
      const stat = readStat(readFileSync(`/proc/${name}/stat`, 'utf8'))
      // A zombie's command line is empty: its name from stat says what it was.
      const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim()
      if (stat)
        table.push({ pid: Number(name), ppid: stat.ppid, state: stat.state, command: command || `[${stat.name}]` })
    } catch {
      // Gone between the listing and the read.
    }
  }
  return table
}
