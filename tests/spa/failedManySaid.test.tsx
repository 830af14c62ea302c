// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { sendFailed, sendMessage } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, conversation } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// Sends refused together in conversations not open (the outbox drained as the socket came back, the user's account
// shut out of them) were said one sentence per conversation, with no bound: refused in 8 conversations, a screen
// reader read 8 sentences before anything else. Above the number of new messages the thread still reads out whole,
// they are now said in one sentence, with how many messages and conversations, as the thread says a burst of news.

const page = pagePerTest('#/messages')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const others: User[] = [
  bob,
  ...['Carol', 'Dave', 'Erin'].map((name) => ({ id: `u-${name}`, name, role: 'tutor' as const })),
]

/** The messages page with Alice's conversations c1… (one with each of `others`), refusing `sends` (conversation ids). */
async function refused(sends: string[]) {
  const { store, sockets } = appStore(
    apiRoutes((_method, path) => {
      if (path === '/api/users') return json(200, [alice, ...others])
      if (path === '/api/conversations')
        return json(
          200,
          others.map((o, i) =>
            conversation(`c${i + 1}`, { participantIds: [alice.id, o.id], readSeq: { [alice.id]: 0, [o.id]: 0 } }),
          ),
        )
      return json(200, [])
    }),
  )
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  await eventually(() => expect(page.container.textContent).toContain('Erin'))
  const said = politeSaid()
  act(() => {
    sends.forEach((id, i) => store.dispatch(sendMessage({ conversationId: id, content: 'Hi', clientId: `k${i}` })))
    sends.forEach((_, i) =>
      store.dispatch(sendFailed({ clientId: `k${i}`, error: { code: 'FORBIDDEN', message: 'no' } })),
    )
  })
  const marked = new Set(sends).size
  await eventually(() =>
    expect(page.container.querySelectorAll('[data-testid=conversation-failed]')).toHaveLength(marked),
  )
  await eventually(() => expect(said).not.toHaveLength(0))
  store.dispose()
  return said
}

describe('sends refused together in many conversations not open', () => {
  test.each([
    ['en', '5 messages in 4 conversations were not sent.'],
    ['fr', '5 messages n’ont pas été envoyés dans 4 conversations.'],
  ] as const)('(%s) are said as one count', async (locale, sentence) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    expect(await refused(['c1', 'c2', 'c1', 'c3', 'c4'])).toEqual([sentence])
  })

  test('in three conversations, each is still named', async () => {
    expect(await refused(['c1', 'c2', 'c2', 'c3'])).toEqual([
      'A message to Bob was not sent. 2 messages to Carol were not sent. A message to Dave was not sent.',
    ])
  })
})
