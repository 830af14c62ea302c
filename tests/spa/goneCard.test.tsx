// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import type { ContactRequest, Lesson } from '../../src/contract'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// Bob presses a button on a card whose lesson (or request) the server no longer has (its data were restored from an
// earlier copy, say): the server answers NOT_FOUND. The card said "That is no longer there." and kept offering
// Confirm / Cancel, each press refused the same way. A vanished thread offers no composer; a vanished card offers no
// buttons, and keeps the keyboard user's place on itself; its words say what is gone, the lesson or the request.

const page = pagePerTest('#/lessons')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

interface Gone {
  name: string
  hash: string
  testId: string
  list: string
  item: Lesson | ContactRequest
  /** The buttons pressed, in order (a final change asks once more). */
  presses: string[]
  locale?: 'fr'
  said: string
}

const lessonGone = 'This lesson no longer exists; it can no longer be changed.'
const requestGone = 'This request no longer exists; it can no longer be answered.'

describe('a status change answered NOT_FOUND (the item is gone from the server)', () => {
  test.each<Gone>([
    {
      name: 'a lesson confirmed',
      hash: '#/lessons',
      testId: 'lesson',
      list: '/api/lessons',
      item: lesson('l1'),
      presses: ['Confirm'],
      said: lessonGone,
    },
    {
      name: 'a lesson cancelled',
      hash: '#/lessons',
      testId: 'lesson',
      list: '/api/lessons',
      item: lesson('l1'),
      presses: ['Cancel lesson', 'Yes, cancel lesson'],
      said: lessonGone,
    },
    {
      name: '(fr) a lesson confirmed',
      hash: '#/lessons',
      testId: 'lesson',
      list: '/api/lessons',
      item: lesson('l1'),
      presses: ['Confirmer'],
      locale: 'fr',
      said: 'Ce cours n’existe plus\u202f; il ne peut plus être modifié.',
    },
    {
      name: 'a request accepted',
      hash: '#/contact-requests',
      testId: 'contact-request',
      list: '/api/contact-requests',
      item: contactRequest('r1'),
      presses: ['Accept'],
      said: requestGone,
    },
    {
      name: 'a request declined',
      hash: '#/contact-requests',
      testId: 'contact-request',
      list: '/api/contact-requests',
      item: contactRequest('r1'),
      presses: ['Decline', 'Yes, decline'],
      said: requestGone,
    },
    {
      name: '(fr) a request accepted',
      hash: '#/contact-requests',
      testId: 'contact-request',
      list: '/api/contact-requests',
      item: contactRequest('r1'),
      presses: ['Accepter'],
      locale: 'fr',
      said: 'Cette demande n’existe plus\u202f; il n’est plus possible d’y répondre.',
    },
  ])(
    '$name: the card says it is gone and offers no action; focus stays on the card',
    async ({ hash, testId, list, item, presses, locale, said }) => {
      if (locale) localStorage.setItem(LOCALE_STORAGE_KEY, locale)
      let patches = 0
      const fetchFn = apiRoutes(async (method, path) => {
        if (method === 'PATCH') {
          patches++
          return json(404, { error: { code: 'NOT_FOUND', message: 'no such item' } })
        }
        if (path === list) return json(200, [item])
        if (path === '/api/users') return json(200, [alice, bob])
        return json(200, [])
      })
      window.history.replaceState(null, '', hash)
      const { store } = appStore(fetchFn, { preloadedState: { auth: { token: 'token-1', user: bob } } })
      renderApp(page.root, store)
      const card = () => page.container.querySelector<HTMLElement>(`[data-testid=${testId}]`)!
      const button = (label: string) => [...card().querySelectorAll('button')].find((b) => b.textContent === label)
      await eventually(() => expect(button(presses[0]!)).toBeDefined())
      for (const label of presses) {
        await eventually(() => expect(button(label)).toBeDefined())
        button(label)!.focus()
        act(() => button(label)!.click())
      }
      await eventually(() => expect(card().querySelector('[role=alert]')?.textContent).toBe(said))
      expect([...card().querySelectorAll('button')].map((b) => b.textContent)).toEqual([])
      expect(document.activeElement).toBe(card())
      expect(patches).toBe(1)
      store.dispose()
    },
  )
})
