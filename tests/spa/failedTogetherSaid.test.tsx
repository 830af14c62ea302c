// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { sendFailed, sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { appStore, pagePerTest, renderApp, saidIn, threadApi } from './support/page'

// Sends refused together in the open thread (the outbox drained as the socket came back, the conversation closed to
// the user) were said as one sentence per message, run together: "Not sent: You are not allowed to do that. Not sent:
// You are not allowed to do that. Not sent: …". They are now said once per reason, with how many; the conversation
// closed to the user, the composer closes too, said in the same sentence.

const page = pagePerTest('#/messages/c1')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const closedEn = 'You no longer have access to this conversation: nothing more can be sent or loaded in it.'
const closedFr = 'Vous n’avez plus accès à cette conversation\u202f: plus rien ne peut y être envoyé ni chargé.'

describe('sends refused together in the open thread', () => {
  test.each([
    ['en', `3 messages not sent: You are not allowed to do that. ${closedEn}`],
    ['fr', `3 messages non envoyés\u202f: Vous n’avez pas le droit de faire cela. ${closedFr}`],
  ] as const)('(%s) are said once, with their number', async (locale, sentence) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, sockets } = appStore(threadApi)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    const said = saidIn('[data-testid=announcer-polite], [data-testid=announcer-assertive]')
    act(() => {
      for (const k of ['k1', 'k2', 'k3']) store.dispatch(sendMessage({ conversationId: 'c1', content: k, clientId: k }))
      for (const k of ['k1', 'k2', 'k3'])
        store.dispatch(sendFailed({ clientId: k, error: { code: 'FORBIDDEN', message: 'no' } }))
    })
    await eventually(() => expect(page.container.querySelectorAll('[data-status=failed]')).toHaveLength(3))
    await eventually(() => expect(said).not.toHaveLength(0))
    expect(said).toEqual([sentence])
    store.dispose()
  })

  test('refused for two reasons: each reason once, with its number', async () => {
    const { store, sockets } = appStore(threadApi)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    const said = saidIn('[data-testid=announcer-assertive]')
    act(() => {
      for (const k of ['k1', 'k2', 'k3']) store.dispatch(sendMessage({ conversationId: 'c1', content: k, clientId: k }))
      store.dispatch(sendFailed({ clientId: 'k1', error: { code: 'FORBIDDEN', message: 'no' } }))
      store.dispatch(sendFailed({ clientId: 'k2', error: { code: 'INVALID', message: 'content: too long' } }))
      store.dispatch(sendFailed({ clientId: 'k3', error: { code: 'FORBIDDEN', message: 'no' } }))
    })
    await eventually(() => expect(page.container.querySelectorAll('[data-status=failed]')).toHaveLength(3))
    await eventually(() => expect(said).not.toHaveLength(0))
    expect(said).toEqual([
      '2 messages not sent: You are not allowed to do that. Not sent: That was not accepted. Check what you entered. ' +
        closedEn,
    ])
    store.dispose()
  })
})
