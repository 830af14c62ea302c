// @ts-check
// JavaScript, type-checked from its JSDoc: `vite.config.ts` imports it too, and Vite's config loader wants an import
// with its file extension (a `.ts` one TypeScript refuses here).

/**
 * Beside the build (a dotfile: never served), written by Vite's build (`vite.config.ts`): the build-time variables it
 * baked in (`buildEnvOf`). A build made with other values (another `VITE_API_URL`) is stale too (`server/spa.ts`): its
 * age alone said it was fresh, and `npm start` served a page that connected to the old API address.
 */
export const BUILD_ENV_FILE = '.build-env.json'

/** What Vite puts in the SPA from the environment (its `envPrefix`). */
export const BUILD_ENV_PREFIXES = /** @type {const} */ (['VITE_', 'NEXT_PUBLIC_'])

/**
 * The build-time variables of `env` as the build stamp keeps them: sorted, the empty ones left out (the SPA reads an
 * empty one as unset).
 *
 * @example buildEnvOf({ VITE_API_URL: 'https://api.example.com', PORT: '3000' }) // '{"VITE_API_URL":"https://api.example.com"}'
 * @param {Readonly<Record<string, string | undefined>>} env
 * @returns {string}
 */
export function buildEnvOf(env) {
  const entries = Object.entries(env)
    .filter(([key, value]) => value && BUILD_ENV_PREFIXES.some((prefix) => key.startsWith(prefix)))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return JSON.stringify(Object.fromEntries(entries))
}
