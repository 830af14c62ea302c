// @vitest-environment jsdom
import { act, StrictMode, useEffect } from 'react'
import { Provider } from 'react-redux'
import { describe, expect, test, vi } from 'vitest'
import { loggedIn, loggedOut } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import { useSocket, type UseSocket } from '../../src/realtime'
import { fakeSockets } from './support/fakeSocket'
import { alice, bob } from './support/fixtures'
import { pagePerTest } from '../spa/support/page'

const page = pagePerTest()

/** Records every value `useSocket` returns into `seen`, and joins `c1` while mounted. */
function Probe({ seen }: { seen: UseSocket[] }) {
  const value = useSocket()
  seen.push(value)
  // What the Thread page does: join while mounted (StrictMode runs this twice).
  useEffect(() => {
    value.joinConversation('c1')
    return () => value.leaveConversation('c1')
  }, [value.joinConversation, value.leaveConversation])
  return <span data-status={value.status}>{value.isConnected ? 'online' : 'offline'}</span>
}

function setup() {
  const sockets = fakeSockets()
  const store = trackedStore({
    apiUrl: 'http://api.test',
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    preloadedState: { auth: { token: 'token-1', user: alice } },
  })
  const seen: UseSocket[] = []
  const render = () =>
    act(() =>
      page.root.render(
        <StrictMode>
          <Provider store={store}>
            <Probe seen={seen} />
          </Provider>
        </StrictMode>,
      ),
    )
  return { sockets, store, seen, render }
}

describe('useSocket', () => {
  test('StrictMode mounting twice still makes exactly one socket', () => {
    const { sockets, render } = setup()
    render()
    render()
    expect(sockets.sockets).toHaveLength(1)
    expect(page.container.textContent).toBe('offline')
  })

  test('exposes the live socket outside Redux, the status, and stable callbacks', () => {
    const { sockets, store, seen, render } = setup()
    render()
    const first = seen[seen.length - 1]!
    expect(first.socket).toBe(sockets.last)
    expect(first.status).toBe('connecting')
    act(() => {
      sockets.last.serverConnect()
      sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    })
    const last = seen[seen.length - 1]!
    expect(last).toMatchObject({ status: 'connected', isConnected: true })
    expect(page.container.textContent).toBe('online')
    expect(last.joinConversation).toBe(first.joinConversation)
    expect(last.leaveConversation).toBe(first.leaveConversation)
    expect(last.sendMessage).toBe(first.sendMessage)
    expect(JSON.stringify(store.getState())).not.toContain('FakeSocket')
    // The join survived StrictMode's mount, unmount, mount: the room is wanted once and joined once connected (and synced).
    expect(store.getState().socket.rooms).toEqual(['c1'])
    expect(sockets.last.sent('conversation:join').map((p) => p.args[0])).toEqual(['c1'])
  })

  test('sendMessage returns the clientId of the pending message', () => {
    const { store, seen, render } = setup()
    render()
    let clientId = ''
    act(() => {
      clientId = seen[seen.length - 1]!.sendMessage('c1', 'hello')
    })
    expect(store.getState().socket.outbox.map((m) => m.clientId)).toEqual([clientId])
  })

  test('the socket becomes null after a disconnect', () => {
    const { store, seen, render } = setup()
    render()
    act(() => {
      store.dispatch({ type: 'socket/disconnect' })
    })
    expect(seen[seen.length - 1]).toMatchObject({ socket: null, status: 'disconnected', isConnected: false })
  })
})

describe('useSocket across sessions', () => {
  function mount(preloaded: boolean) {
    const sockets = fakeSockets()
    const store = trackedStore({
      apiUrl: 'http://api.test',
      createSocket: sockets.createSocket,
      storage: createMemoryStorage(),
      ...(preloaded ? { preloadedState: { auth: { token: 'token-1', user: alice } } } : {}),
    })
    const seen: UseSocket[] = []
    act(() =>
      page.root.render(
        <Provider store={store}>
          <Probe seen={seen} />
        </Provider>,
      ),
    )
    return { sockets, store, seen, last: () => seen[seen.length - 1]! }
  }

  test('before login: no socket, idle, and a send creates none', () => {
    const { sockets, store, last } = mount(false)
    expect(last()).toMatchObject({ socket: null, status: 'idle', isConnected: false })
    act(() => void last().sendMessage('c1', 'hello'))
    expect(sockets.sockets).toHaveLength(0)
    expect(JSON.stringify(store.getState())).not.toContain('FakeSocket')
  })

  test('after logout and a login as another user, the same callbacks send as the new user on the new socket', () => {
    const { sockets, store, last } = mount(true)
    const first = last()
    act(() => {
      sockets.last.serverConnect()
      sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    })
    const aliceSocket = sockets.last
    act(() => void store.dispatch(loggedOut()))
    expect(last()).toMatchObject({ socket: null, status: 'idle', isConnected: false })
    act(() => void store.dispatch(loggedIn({ token: 'token-2', user: bob })))
    expect(sockets.sockets).toHaveLength(2)
    expect(last().socket).toBe(sockets.last)
    expect(last().socket).not.toBe(aliceSocket)
    act(() => {
      sockets.last.serverConnect()
      sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    })
    expect(last().sendMessage).toBe(first.sendMessage)
    expect(last().joinConversation).toBe(first.joinConversation)
    let clientId = ''
    act(() => {
      clientId = last().sendMessage('c2', 'from bob')
    })
    expect(store.getState().socket.outbox).toMatchObject([{ clientId, conversationId: 'c2' }])
    expect(aliceSocket.sent('message:send')).toEqual([])
    expect(sockets.last.sent('message:send').map((p) => p.args[0])).toMatchObject([{ clientId, content: 'from bob' }])
  })

  test('outside a Provider it says so', () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      expect(() => act(() => page.root.render(<Probe seen={[]} />))).toThrow(/react-redux context value/)
    } finally {
      errors.mockRestore()
    }
  })
})
