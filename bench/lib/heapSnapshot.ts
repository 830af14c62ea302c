import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'

/** The parts of V8's `.heapsnapshot` JSON that `sumSnapshot` reads. */
export interface HeapSnapshotJson {
  snapshot: {
    meta: {
      node_fields: string[]
      node_types: [string[], ...unknown[]]
      edge_fields: string[]
      edge_types: [string[], ...unknown[]]
    }
  }
  nodes: number[]
  edges: number[]
  strings: string[]
}

export interface HeapSums {
  /** Self sizes of every object on V8's heap in the snapshot except the JIT's. */
  bytes: number
  /** How many objects that is. */
  objects: number
  /** Self sizes of the JIT's objects: V8's `code` nodes (compiled code, bytecode, feedback, deopt data, …) and the
   * weak lists of `JIT_LISTS`. */
  jitBytes: number
}

/**
 * The weak lists the optimising compiler keeps, by the name of the edge that reaches them: `dependent_code` (the code
 * to deoptimise when a map, cell or allocation site changes) and `retained_maps` (the native context's list of maps
 * kept a few GCs for optimised code). They grow by doubling, a few KB at a time, whenever the JIT needs more room.
 */
const JIT_LISTS = ['dependent_code', 'retained_maps']

/**
 * Sums a heap snapshot's objects, the JIT's apart. The JIT's part grows for thousands of cycles while the same code
 * is compiled, optimised and deoptimised, whatever the code retains; what is left is what the program keeps.
 *
 * @example
 * const { bytes, jitBytes } = sumSnapshot(JSON.parse(readFileSync('x.heapsnapshot', 'utf8')))
 */
export function sumSnapshot(snapshot: HeapSnapshotJson): HeapSums {
  const { meta } = snapshot.snapshot
  const nodeFields = meta.node_fields.length
  const edgeFields = meta.edge_fields.length
  const nodeTypes = meta.node_types[0]
  const edgeTypes = meta.edge_types[0]
  const type = meta.node_fields.indexOf('type')
  const name = meta.node_fields.indexOf('name')
  const size = meta.node_fields.indexOf('self_size')
  const edgeType = meta.edge_fields.indexOf('type')
  const edgeName = meta.edge_fields.indexOf('name_or_index')
  const edgeTo = meta.edge_fields.indexOf('to_node')
  const { nodes, edges, strings } = snapshot
  const internal = edgeTypes.indexOf('internal')
  const jitEdges = new Set(JIT_LISTS.map((list) => strings.indexOf(list)).filter((at) => at !== -1))

  // The JIT's weak lists: the targets of internal edges named in JIT_LISTS (edges' to_node is an index into `nodes`).
  const jitLists = new Set<number>()
  for (let e = 0; e < edges.length; e += edgeFields)
    if (edges[e + edgeType] === internal && jitEdges.has(edges[e + edgeName]!)) jitLists.add(edges[e + edgeTo]!)

  const code = nodeTypes.indexOf('code')
  // Not V8's heap: what the embedder reports beside it (ArrayBuffers' backing stores, such as Node's 8 KB Buffer pool
  // slabs, taken one at a time whenever the last is used up; native handles), as `heapUsed` leaves it out too.
  const outside = new Set(['native', 'synthetic'].map((name) => nodeTypes.indexOf(name)))
  let bytes = 0
  let objects = 0
  let jitBytes = 0
  for (let n = 0; n < nodes.length; n += nodeFields) {
    const self = nodes[n + size]!
    if (outside.has(nodes[n + type]!)) continue
    if (nodes[n + type] === code || (jitLists.has(n) && strings[nodes[n + name]!] === 'system / WeakArrayList'))
      jitBytes += self
    else {
      bytes += self
      objects++
    }
  }
  return { bytes, objects, jitBytes }
}

/**
 * Writes a heap snapshot (V8 collects garbage first) to a temporary file, sums it with `sumSnapshot` and deletes it.
 * Written synchronously by V8 rather than streamed (`v8.getHeapSnapshot()`): a stream's own objects (its port, its
 * listeners, its buffers) would be on the heap it describes, more or fewer of them from one snapshot to the next.
 *
 * @example
 * const before = heapWithoutJit()
 * // … cycles …
 * const perCycle = (heapWithoutJit().bytes - before.bytes) / cycles
 */
export function heapWithoutJit(): HeapSums {
  const dir = mkdtempSync(join(tmpdir(), 'talemy-heap-'))
  try {
    const file = v8.writeHeapSnapshot(join(dir, 'heap.heapsnapshot'))
    return sumSnapshot(JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshotJson)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
