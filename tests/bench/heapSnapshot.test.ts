import { describe, expect, test } from 'vitest'
import { heapWithoutJit, sumSnapshot, type HeapSnapshotJson } from '../../bench/lib/heapSnapshot'

// P6 counts what a connection leaves on the heap without what V8's compilers add as the same code keeps running
// (compiled code, its metadata, the dependent-code lists): these tests pin which objects fall on which side.

/** A snapshot in V8's format: nodes [type, name, id, self_size, edge_count], edges [type, name_or_index, to_node]. */
function snapshot(
  nodes: Array<{ type: string; name: string; size: number; edges?: Array<{ type: string; name: string; to: number }> }>,
): HeapSnapshotJson {
  const nodeTypes = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'native', 'synthetic']
  const edgeTypes = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak']
  const strings: string[] = []
  const str = (s: string) => {
    const at = strings.indexOf(s)
    return at === -1 ? strings.push(s) - 1 : at
  }
  const flatNodes: number[] = []
  const flatEdges: number[] = []
  nodes.forEach((node, id) => {
    flatNodes.push(nodeTypes.indexOf(node.type), str(node.name), id + 1, node.size, node.edges?.length ?? 0)
    for (const edge of node.edges ?? []) flatEdges.push(edgeTypes.indexOf(edge.type), str(edge.name), edge.to * 5)
  })
  return {
    snapshot: {
      meta: {
        node_fields: ['type', 'name', 'id', 'self_size', 'edge_count'],
        node_types: [nodeTypes, 'string', 'number', 'number', 'number'],
        edge_fields: ['type', 'name_or_index', 'to_node'],
        edge_types: [edgeTypes, 'string_or_number', 'node'],
      },
    },
    nodes: flatNodes,
    edges: flatEdges,
    strings,
  }
}

describe('sumSnapshot', () => {
  test('counts objects, closures, contexts and strings; leaves out code, the JIT’s weak lists and what is off the heap', () => {
    const sums = sumSnapshot(
      snapshot([
        { type: 'object', name: 'Map', size: 100, edges: [{ type: 'internal', name: 'dependent_code', to: 5 }] },
        {
          type: 'hidden',
          name: 'system / NativeContext',
          size: 50,
          edges: [{ type: 'internal', name: 'retained_maps', to: 10 }],
        },
        { type: 'closure', name: 'on', size: 64 },
        { type: 'object', name: 'system / Context', size: 40 },
        { type: 'code', name: '(code deopt data)', size: 1000 },
        { type: 'hidden', name: 'system / WeakArrayList', size: 300 },
        { type: 'hidden', name: 'system / WeakArrayList', size: 7 },
        { type: 'string', name: 'hello', size: 20 },
        { type: 'native', name: 'system / JSArrayBufferData', size: 8192 },
        { type: 'synthetic', name: 'Node / MessagePort', size: 240 },
        { type: 'hidden', name: 'system / WeakArrayList', size: 2928 },
      ]),
    )
    // The dependent-code list and the retained maps are the JIT's; the other WeakArrayList (e.g. the script list) counts. An ArrayBuffer's backing
    // store and a native handle are not on V8's heap: neither side.
    expect(sums).toEqual({ bytes: 100 + 50 + 64 + 40 + 7 + 20, objects: 6, jitBytes: 1000 + 300 + 2928 })
  })
})

describe('heapWithoutJit', () => {
  test('sees objects kept alive and no longer counts them once they are dropped', () => {
    const before = heapWithoutJit()
    let kept: Array<{ i: number }> | null = Array.from({ length: 20_000 }, (_, i) => ({ i }))
    const holding = heapWithoutJit()
    expect(kept.length).toBe(20_000)
    kept = null
    const after = heapWithoutJit()
    // Each { i } is at least 16 bytes (map, properties, elements, one field; 4 bytes each with compressed pointers),
    // and the array holds it in a slot of at least 4 bytes.
    expect(holding.bytes - before.bytes).toBeGreaterThanOrEqual(20_000 * (16 + 4))
    expect(holding.objects - before.objects).toBeGreaterThanOrEqual(20_000)
    expect(after.bytes).toBeLessThan(holding.bytes - 20_000 * 16)
  })
})
