import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { defineConfig, type Plugin } from 'vite'
import react from '@vitejs/plugin-react'
import { BUILD_ENV_FILE, buildEnvOf } from './server/buildEnv.js'

// NEXT_PUBLIC_API_URL is the first integration's variable; VITE_API_URL is ours. Both reach import.meta.env.
// The dev server proxies to the API that `npm start` runs, on its PORT (default 3000).
const apiTarget = `http://127.0.0.1:${process.env.PORT || 3000}`

/**
 * Leaves beside the build the variables it baked in (`server/spa.ts`), read before Vite adds its own to the
 * environment: `npm start` builds again when they differ (another VITE_API_URL).
 */
function buildEnvStamp(): Plugin {
  const env = buildEnvOf(process.env)
  return {
    name: 'talemy-build-env',
    apply: 'build',
    writeBundle(options) {
      writeFileSync(join(options.dir ?? 'dist', BUILD_ENV_FILE), env)
    },
  }
}

export default defineConfig({
  plugins: [react(), buildEnvStamp()],
  envPrefix: ['VITE_', 'NEXT_PUBLIC_'],
  server: {
    port: 5173,
    proxy: {
      '/api': apiTarget,
      '/socket.io': { target: apiTarget, ws: true },
    },
  },
  // No source maps in the production build: they would publish the sources (the server also refuses *.map).
  build: { outDir: 'dist', sourcemap: false },
})
