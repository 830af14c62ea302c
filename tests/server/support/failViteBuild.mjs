/**
 * Preloaded into `npm start`'s child processes (`NODE_OPTIONS=--import <this file>`): Vite's build fails at once, as
 * a syntax error in the SPA's sources makes it, and leaves `dist/` as it was. Nothing else is changed.
 */
if (/[\\/]vite[\\/]bin[\\/]vite\.js$/.test(process.argv[1] ?? '')) {
  process.stderr.write('error during build: (failViteBuild.mjs) a build that fails\n')
  process.exit(1)
}
