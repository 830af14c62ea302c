import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'
import { rolldown } from 'rolldown'
import type { Figure } from '../lib/figure'
import { row } from '../lib/results'
import { BENCH_DIR, REPO_ROOT } from '../lib/paths'

/**
 * P5: what the realtime layer adds to a browser bundle, minified (rolldown, Vite 8's bundler) and gzipped (level 9).
 *
 * Baseline: everything socket.io-client, RTK and RTK Query (React entry) export, so whatever the layer uses from
 * them is already paid for. With: the same plus `export * from 'src/realtime'`. The difference is the layer's own
 * code, the contract, and whatever else the layer pulls in (the app's api slice; valibot too, should it come back). React and react-redux
 * stay external in both (the app pays for them with or without the layer).
 */

const BASE = [
  "export { io, Manager, Socket } from 'socket.io-client'",
  "export * from '@reduxjs/toolkit'",
  "export * from '@reduxjs/toolkit/query/react'",
]

interface BundleSize {
  min: number
  gz: number
  /** Rendered (pre-minification) length per module, for the breakdown in the log. */
  modules: Record<string, number>
}

/**
 * Bundles `entryFile`. With `leaveOut`, the modules it matches are bundled empty and what imports them gets
 * `undefined` in their place (`shimMissingExports`): the bundle then holds everything but their own code.
 */
async function bundle(entryFile: string, leaveOut?: RegExp): Promise<BundleSize> {
  const build = await rolldown({
    input: entryFile,
    cwd: REPO_ROOT,
    platform: 'browser',
    external: [/^react($|\/)/, /^react-dom($|\/)/, /^react-redux($|\/)/],
    ...(leaveOut
      ? {
          shimMissingExports: true,
          plugins: [
            { name: 'leave-out', load: (id: string) => (leaveOut.test(id.split('\\').join('/')) ? 'export {}' : null) },
          ],
        }
      : {}),
    transform: {
      define: {
        'process.env.NODE_ENV': '"production"',
        'import.meta.env.DEV': 'false',
        'import.meta.env.PROD': 'true',
      },
    },
    logLevel: 'silent',
  })
  try {
    const { output } = await build.generate({ format: 'es', minify: true })
    let min = 0
    let gz = 0
    const modules: Record<string, number> = {}
    for (const chunk of output) {
      if (chunk.type !== 'chunk') continue
      const code = Buffer.from(chunk.code)
      min += code.length
      gz += gzipSync(code, { level: 9 }).length
      for (const [id, info] of Object.entries(chunk.modules)) modules[relative(REPO_ROOT, id)] = info.renderedLength
    }
    return { min, gz, modules }
  } finally {
    await build.close()
  }
}

/** The layer's features whose own modules can be told apart, for what each costs. */
const FEATURES: Array<[id: string, label: string, modules: RegExp]> = [
  ['tabs', 'one socket per browser (src/realtime/tabs/, tabsHandler)', /\/src\/realtime\/(tabs\/|tabsHandler\.ts)/],
  [
    'durable-outbox',
    'the stored outbox and its lock (outboxStorage, outboxDurable, drainLock)',
    /\/src\/realtime\/(outboxStorage|outboxDurable|drainLock)\.ts/,
  ],
  ['resume', 'durable resume (resumeHandler, resumeGate)', /\/src\/realtime\/(resumeHandler|resumeGate)\.ts/],
  [
    'presence-typing',
    'presence and typing (presenceSlice, typingHandler)',
    /\/src\/realtime\/(presenceSlice|typingHandler)\.ts/,
  ],
  ['hook', 'the React hook (useSocket)', /\/src\/realtime\/useSocket\.ts/],
]

export const p5: Figure = {
  id: 'P5',
  title: 'bundle size of the layer, min+gz',
  async run({ log }) {
    // (No chart: a handful of sizes read better in the table.)
    const tmp = join(BENCH_DIR, '.tmp', 'p5')
    await rm(tmp, { recursive: true, force: true })
    await mkdir(tmp, { recursive: true })
    const spec = (path: string) => `'${relative(tmp, join(REPO_ROOT, path)).split('\\').join('/')}'`
    const entries = {
      base: BASE,
      withApi: [...BASE, `export * from ${spec('src/api/index.ts')}`],
      withContract: [...BASE, `export * from ${spec('src/contract/index.ts')}`],
      withLayer: [...BASE, `export * from ${spec('src/realtime/index.ts')}`],
      withApiAndLayer: [
        ...BASE,
        `export * from ${spec('src/api/index.ts')}`,
        `export * from ${spec('src/realtime/index.ts')}`,
      ],
    }
    const sizes: Record<string, BundleSize> = {}
    for (const [name, lines] of Object.entries(entries)) {
      const file = join(tmp, `${name}.ts`)
      await writeFile(file, `${lines.join('\n')}\n`)
      sizes[name] = await bundle(file)
      log(`P5 ${name}: ${sizes[name]!.min} B min, ${sizes[name]!.gz} B min+gz`)
    }
    const { base, withApi, withContract, withLayer, withApiAndLayer } = sizes as Record<
      keyof typeof entries,
      BundleSize
    >
    const added = Object.entries(withLayer.modules)
      .filter(([id, length]) => !(id in base.modules) && length > 0)
      .sort((a, b) => b[1] - a[1])
    log(
      `P5 modules the layer adds (rendered length before minification): ${added.map(([id, n]) => `${id.replace(/^node_modules\//, '')} ${n}`).join(', ')}`,
    )
    // The breakdown by part, in rendered length before minification (gzip is not additive per module; the shares are).
    const PARTS: Array<[string, string, RegExp]> = [
      ['realtime', 'the layer (src/realtime)', /^src\/realtime\//],
      ['contract', 'the contract (src/contract)', /^src\/contract\//],
      ['valibot', 'valibot (the server uses it, the browser should not: a guard)', /^node_modules\/valibot\//],
      ['api', 'the app api slice it imports (src/api)', /^src\/api\//],
    ]
    const addedTotal = added.reduce((a, [, n]) => a + n, 0)
    const partRows = [...PARTS, ['other', 'anything else', /./] as [string, string, RegExp]].map(
      ([id, label, pattern], i, all) => {
        const length = added
          .filter(([module]) => pattern.test(module) && !all.slice(0, i).some(([, , earlier]) => earlier.test(module)))
          .reduce((a, [, n]) => a + n, 0)
        return row({
          id: `P5-part-${id}`,
          name: `of the added code before minification: ${label} (baseline: all the layer adds)`,
          value: length,
          unit: 'B',
          baseline: addedTotal,
          // The browser validates with the contract's own checks; valibot coming back into its bundle is a defect.
          ...(id === 'valibot' ? { target: { on: 'value' as const, op: '==' as const, limit: 0 } } : {}),
        })
      },
    )
    // What each feature costs, min+gz: the layer's bundle with that feature's own modules left out, against the whole.
    // A lower bound: the code that calls into them stays (each call then reaches `undefined`; the bundle is only
    // measured, never run).
    const withLayerFile = join(tmp, 'withLayer.ts')
    const featureRows = []
    for (const [id, label, leaveOut] of FEATURES) {
      const without = await bundle(withLayerFile, leaveOut)
      log(`P5 without ${id}: ${without.gz} B min+gz`)
      featureRows.push(
        row({
          id: `P5-feature-${id}`,
          name: `of which ${label}: what the layer's bundle loses without its own modules, min+gz (a lower bound)`,
          value: withLayer.gz - without.gz,
          unit: 'B',
          baseline: withLayer.gz - base.gz,
        }),
      )
    }
    return [
      row({
        id: 'P5-ceiling',
        name: 'layer + contract (+ what it imports), added min+gz: the ceiling the layer must stay under',
        value: withLayer.gz - base.gz,
        unit: 'B',
        target: { on: 'value', op: '<=', limit: 16_000 },
      }),
      ...partRows,
      ...featureRows,
      row({
        id: 'P5',
        name: 'layer + contract (+ what it imports), added min+gz over socket.io-client + RTK',
        value: withLayer.gz - base.gz,
        unit: 'B',
        baseline: base.gz,
        target: { on: 'value', op: '<=', limit: 5000 },
      }),
      row({
        id: 'P5-excl-api',
        name: 'the same, over a baseline that already holds the app api slice (src/api)',
        value: withApiAndLayer.gz - withApi.gz,
        unit: 'B',
        baseline: withApi.gz,
      }),
      row({
        id: 'P5-contract',
        name: 'of which the contract alone (src/contract: checks, schemas, limits), added min+gz',
        value: withContract.gz - base.gz,
        unit: 'B',
        baseline: base.gz,
      }),
      row({
        id: 'P5-min',
        name: 'layer added, minified only',
        value: withLayer.min - base.min,
        unit: 'B',
        baseline: base.min,
      }),
      row({
        id: 'P5-total',
        name: 'whole bundle with the layer, min+gz',
        value: withLayer.gz,
        unit: 'B',
        baseline: base.gz,
      }),
    ]
  },
}
