// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n/locale'
import { ephemeralEventActions } from '../../src/realtime'
import { eventually } from './support/eventually'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// The typing line (a polite live region: what it shows is said) took several people typing at once as one name,
// joined by commas, in a sentence made for one: "Bob, Carol is typing…", "Bob, Carol est en train d’écrire…". It now
// lists them as the language does ("Bob and Carol", "Bob et Carol") and its verb agrees with how many they are.

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }
const dan: User = { id: 'u-dan', name: 'Dan', role: 'tutor' }
const page = pagePerTest('#/messages/c1')
afterEach(() => window.localStorage.removeItem(LOCALE_STORAGE_KEY))

const api = apiRoutes((_method, path) => {
  if (path === '/api/users') return json(200, [alice, bob, carol, dan])
  if (path === '/api/conversations')
    return json(200, [conversation('c1', { participantIds: [alice.id, bob.id, carol.id, dan.id] })])
  if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
  return json(200, [])
})

/** The typing line of Alice's thread c1 in `locale`, after each of `typers` started typing, one after the other. */
async function typingLine(locale: 'en' | 'fr', typers: User[]) {
  window.localStorage.setItem(LOCALE_STORAGE_KEY, locale)
  const { store, sockets } = appStore(api)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
  const line = page.container.querySelector('[data-testid=typing]')!
  const seen: string[] = []
  for (const typer of typers) {
    act(() => void store.dispatch(ephemeralEventActions.typing({ conversationId: 'c1', userId: typer.id })))
    await eventually(() => expect(line.querySelectorAll('bdi')).toHaveLength(typers.indexOf(typer) + 1))
    seen.push(line.textContent ?? '')
  }
  // Each name keeps its own direction inside the sentence.
  expect([...line.querySelectorAll('bdi')].map((b) => b.textContent)).toEqual(typers.map((p) => p.name))
  store.dispose()
  return seen
}

describe('the typing line with several people typing', () => {
  test('in English, lists them with “and” and says “are”', async () => {
    expect(await typingLine('en', [bob, carol, dan])).toEqual([
      'Bob is typing…',
      'Bob and Carol are typing…',
      'Bob, Carol, and Dan are typing…',
    ])
  })

  test('in French, lists them with “et” and says “sont”', async () => {
    expect(await typingLine('fr', [bob, carol, dan])).toEqual([
      'Bob est en train d’écrire…',
      'Bob et Carol sont en train d’écrire…',
      'Bob, Carol et Dan sont en train d’écrire…',
    ])
  })
})
