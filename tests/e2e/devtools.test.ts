import { describe, expect, it } from 'vitest'
import {
  apiCall,
  apiLogin,
  e2ePerFile,
  loginAs,
  messagesWithText,
  openConversationWith,
  send,
  unique,
} from './support/app'
import { installRecordingDevTools, type RecordedAction } from './support/devtools'
import { hangBound } from '../support/hangBound'

describe('Redux DevTools', () => {
  // The store connects to DevTools in development (store.ts: `devTools: NODE_ENV !== 'production'`), so this
  // test loads the development build of the SPA.
  const e2e = e2ePerFile({ build: 'development' })

  it('receives every socket action, each with a serializable payload', async () => {
    // RTK's development checks (serializability, immutability) speak through the console: the page's must stay quiet.
    const context = await e2e.browser.newContext({ viewport: { width: 1280, height: 800 } })
    const said: string[] = []
    context.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') said.push(m.text())
    })
    const alice = await loginAs(e2e, 'alice', { context, initScript: installRecordingDevTools })
    const { page } = alice
    const recorded = () =>
      page.evaluate(() => (window as unknown as { __devtools: { actions: RecordedAction[] } }).__devtools.actions)
    const waitForAction = (type: string, contains?: string) =>
      page.waitForFunction(
        ([t, c]) =>
          (window as unknown as { __devtools: { actions: RecordedAction[] } }).__devtools.actions.some(
            (a) => a.type === t && (!c || a.json.includes(c)),
          ),
        [type, contains] as const,
        { timeout: hangBound() },
      )
    try {
      await waitForAction('socket/connected')

      // An incoming message from Bob (sent over HTTP from Node) and Alice's own send, confirmed.
      const id = await openConversationWith(page, 'Bob')
      const bob = await apiLogin(e2e, 'bob')
      const fromBob = unique('DevTools hello from Bob')
      await apiCall(e2e, bob.token, 'POST', `/api/conversations/${id}/messages`, {
        content: fromBob,
        clientId: crypto.randomUUID(),
      })
      await waitForAction('socket/message:new', fromBob)
      await messagesWithText(page, fromBob).waitFor({ timeout: hangBound() })

      const fromAlice = unique('DevTools reply from Alice')
      await send(page, fromAlice)
      await waitForAction('socket/message:sent', fromAlice)

      const actions = await recorded()
      const socketActions = actions.filter((a) => a.type.startsWith('socket/'))
      const types = new Set(socketActions.map((a) => a.type))
      for (const t of [
        'socket/connected',
        'socket/joinConversation',
        'socket/sendMessage',
        'socket/message:new',
        'socket/message:sent',
      ]) {
        expect(types, `DevTools saw ${t}`).toContain(t)
      }
      // Every socket action is plain data: nothing to report, and JSON keeps all of it.
      expect(socketActions.filter((a) => a.problem !== null)).toEqual([])
      for (const a of socketActions) expect(a.json, a.type).not.toBe('')

      const incoming = JSON.parse(
        socketActions.find((a) => a.type === 'socket/message:new' && a.json.includes(fromBob))!.json,
      )
      expect(incoming.payload).toMatchObject({ conversationId: id, content: fromBob, seq: expect.any(Number) })
      // (Not their "…took N ms" notes: a busy machine can pass that threshold.)
      const rtk = ['non-serializable value was detected', 'state mutation was detected']
      expect(said.filter((line) => rtk.some((w) => line.includes(w)))).toEqual([])
    } finally {
      await alice.context.close()
    }
  })
})
