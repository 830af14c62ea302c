// @vitest-environment jsdom
import { act } from 'react'
import { createRoot } from 'react-dom/client'
import { describe, expect, test } from 'vitest'
import { alice, bob } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp, writtenBeforeReload } from './support/page'

// The messages page says a refused send of a conversation that is not open ("A message to Bob was not sent."), naming
// the other person as its conversation in the list names them. After a reload whose read of the list failed (the
// server failing it), the message written before, sent again and refused, was said "A message to You was not sent.":
// a conversation the page does not know was taken for one with the user alone. It is someone's, said in lower case
// inside the sentence (tests/spa/someoneInSentence.test.tsx): "A message to someone was not sent.".
describe('A refused send of a conversation the page does not know', () => {
  const page = pagePerTest('#/messages/c1')

  test('does not say it was written to the user', async () => {
    const storage = await writtenBeforeReload(page, 'written')

    // The reload, on the list of conversations, which the server fails to read.
    window.history.replaceState(null, '', '#/messages')
    const root = createRoot(page.container)
    const failingList = apiRoutes((_method, path) => {
      if (path === '/api/conversations') return json(500, { error: { code: 'INTERNAL', message: 'database timeout' } })
      if (path === '/api/users') return json(200, [alice, bob])
      return json(200, [])
    })
    const second = appStore(failingList, { storage })
    renderApp(root, second.store)
    await eventually(() => expect(page.container.querySelector('.conv-pane [role=alert]')).not.toBeNull())
    const polite = politeSaid()
    act(() => second.sockets.last.serverConnect())
    const resent = await eventually(() => {
      const sends = second.sockets.last.sent('message:send')
      expect(sends.length).toBeGreaterThan(0)
      return sends.at(-1)!
    })
    await act(async () => resent.ack({ ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } }))
    await eventually(() => expect(polite.join(' ')).toMatch(/was not sent/))
    expect(polite).toEqual(['A message to someone was not sent.'])
    act(() => root.unmount())
    second.store.dispose()
  })
})
