/**
 * Preloaded into a server child process (`NODE_OPTIONS=--import <this file>`, after tsx): an HTTP server's `close`
 * stops listening but never calls back, and holds the process up as a connection that never ends would. The server's
 * close then never finishes, and `npm start`'s forced exit is what ends the process.
 */
import http from 'node:http'

const close = http.Server.prototype.close
http.Server.prototype.close = function hangingClose() {
  setInterval(() => undefined, 60_000)
  return close.call(this, () => undefined)
}
