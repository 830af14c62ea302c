import { createConnection, createServer, type AddressInfo, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { startBalancer, type Balancer } from '../../server/cluster/balancer'

/** A backend that answers every connection with its name and closes. */
async function namedBackend(name: string): Promise<{ server: Server; address: string }> {
  const server = createServer((socket) => socket.end(name))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` }
}

function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = ''
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.on('data', (chunk) => (answer += chunk))
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
  })
}

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

describe('the TCP balancer', () => {
  it('hands connections to its backends in turn', async () => {
    const [a, b] = await Promise.all([namedBackend('a'), namedBackend('b')])
    const balancer: Balancer = await startBalancer([a.address, b.address])
    cleanup.push(
      () => new Promise((r) => a.server.close(r)),
      () => new Promise((r) => b.server.close(r)),
      () => balancer.close(),
    )
    const answers: string[] = []
    for (let i = 0; i < 4; i++) answers.push(await ask(balancer.port))
    expect(answers).toEqual(['a', 'b', 'a', 'b'])
  })

  it('drops a dead backend: every connection reaches the live one', async () => {
    const [a, b] = await Promise.all([namedBackend('a'), namedBackend('b')])
    const balancer = await startBalancer([a.address, b.address])
    cleanup.push(
      () => new Promise((r) => b.server.close(r)),
      () => balancer.close(),
    )
    await new Promise((r) => a.server.close(r))
    const answers: string[] = []
    for (let i = 0; i < 4; i++) answers.push(await ask(balancer.port))
    expect(answers).toEqual(['b', 'b', 'b', 'b'])
    expect(balancer.handed.get(a.address)).toBeUndefined()
  })
})
