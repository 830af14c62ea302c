// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { ephemeralEventActions, typingExpired } from '../../src/realtime'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// The typing line (a polite live region: what it shows is said) named each person typing, and someone the page could
// not name (not in /api/users) was "someone" as many times as they were: two of them typing read "Someone and someone
// are typing…" / "Quelqu’un et quelqu’un sont en train d’écrire…", and Bob with one of them "Someone and Bob are
// typing…". Those it cannot name are now counted after those it can: "2 people are typing…", "Bob and someone else are
// typing…", "Bob and 2 others are typing…"; one alone is still "Someone is typing…".

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }
const page = pagePerTest('#/messages/c1')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

// u-gone1 and u-gone2 are in the conversation but no longer in /api/users.
const api = apiRoutes((_method, path) => {
  if (path === '/api/users') return json(200, [alice, bob, carol])
  if (path === '/api/conversations')
    return json(200, [conversation('c1', { participantIds: [alice.id, bob.id, carol.id, 'u-gone1', 'u-gone2'] })])
  if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
  return json(200, [])
})

/** Who starts typing, in order, and the line said then in English and in French. */
const CASES: { typers: string[]; en: string; fr: string }[] = [
  { typers: ['u-gone1'], en: 'Someone is typing…', fr: 'Quelqu’un est en train d’écrire…' },
  { typers: ['u-gone1', 'u-gone2'], en: '2 people are typing…', fr: '2 personnes sont en train d’écrire…' },
  {
    typers: [bob.id, 'u-gone1'],
    en: 'Bob and someone else are typing…',
    fr: 'Bob et quelqu’un d’autre sont en train d’écrire…',
  },
  {
    typers: ['u-gone1', bob.id],
    en: 'Bob and someone else are typing…',
    fr: 'Bob et quelqu’un d’autre sont en train d’écrire…',
  },
  {
    typers: ['u-gone1', bob.id, 'u-gone2'],
    en: 'Bob and 2 others are typing…',
    fr: 'Bob et 2 autres personnes sont en train d’écrire…',
  },
  {
    typers: [bob.id, 'u-gone2', carol.id],
    en: 'Bob, Carol, and someone else are typing…',
    fr: 'Bob, Carol et quelqu’un d’autre sont en train d’écrire…',
  },
]

describe('the typing line with people it cannot name', () => {
  test.each(['en', 'fr'] as const)('(%s) counts them after those it names', async (locale) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, sockets } = appStore(api)
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    // The people are read: Bob is named in the list.
    await eventually(() => expect(page.container.querySelector('.conv-name')?.textContent).toBe('Bob'))
    const line = page.container.querySelector('[data-testid=typing]')!
    const seen: { line: string; named: string[] }[] = []
    for (const c of CASES) {
      for (const userId of c.typers)
        act(() => void store.dispatch(ephemeralEventActions.typing({ conversationId: 'c1', userId })))
      seen.push({ line: line.textContent ?? '', named: [...line.querySelectorAll('bdi')].map((b) => b.textContent!) })
      for (const userId of c.typers) act(() => void store.dispatch(typingExpired({ conversationId: 'c1', userId })))
      expect(line.textContent).toBe('')
    }
    expect(seen).toEqual(
      CASES.map((c) => ({
        line: c[locale],
        // Each name keeps its own direction inside the sentence.
        named: c.typers.filter((id) => !id.startsWith('u-gone')).map((id) => (id === bob.id ? 'Bob' : 'Carol')),
      })),
    )
    store.dispose()
  })
})
