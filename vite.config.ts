import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// NEXT_PUBLIC_API_URL is the first integration's variable; VITE_API_URL is ours. Both reach import.meta.env.
// The dev server proxies to the API that `npm start` runs, on its PORT (default 3000).
const apiTarget = `http://127.0.0.1:${process.env.PORT || 3000}`

export default defineConfig({
  plugins: [react()],
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
