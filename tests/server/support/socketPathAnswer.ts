import { randomBytes } from 'node:crypto'
import { type IncomingHttpHeaders, request } from 'node:http'

/**
 * A request to Socket.IO's path made by hand (a WebSocket upgrade when `websocket`), for its refusal: the answer's
 * status, headers and JSON body. An upgrade that goes through fails the promise ('upgraded').
 *
 * @example await socketPathAnswer(`${server.url}/socket.io/?EIO=4&transport=websocket`, { origin: 'http://evil.test' }, { websocket: true })
 */
export function socketPathAnswer(
  url: string,
  headers: Record<string, string>,
  { websocket, method = 'GET' }: { websocket: boolean; method?: string },
): Promise<{ status: number; headers: IncomingHttpHeaders; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method,
      headers: {
        ...headers,
        ...(websocket
          ? {
              connection: 'Upgrade',
              upgrade: 'websocket',
              'sec-websocket-version': '13',
              'sec-websocket-key': randomBytes(16).toString('base64'),
            }
          : {}),
      },
    })
    req.on('upgrade', (_res, socket) => {
      socket.destroy()
      reject(new Error('upgraded'))
    })
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end()
  })
}
