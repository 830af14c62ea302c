// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, lesson } from '../unit/support/fixtures'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// "Booked …" and "Request sent." are said through a status region (WCAG 4.1.3). A live region that is inserted together
// with its text is not read by screen readers (VoiceOver, NVDA with Chrome): it must be in the page, empty, before the
// text is put in it. Each form is submitted twice: the second confirmation must be said too.

const page = pagePerTest()

const api = apiRoutes(async (method, path, request) => {
  if (path === '/api/users') return json(200, [alice, bob])
  if (method === 'POST' && path === '/api/lessons') {
    const { subject } = (await request.json()) as { subject: string }
    return json(201, lesson(`l-${subject}`, { subject }))
  }
  if (method === 'POST' && path === '/api/contact-requests') {
    const { message } = (await request.json()) as { message: string }
    // Answered at once, so the same tutor may be asked again (one pending request per student and tutor).
    return json(201, contactRequest(`r-${message}`, { message, status: 'accepted' }))
  }
  return json(200, [])
})

describe('a form’s confirmation', () => {
  test.each([
    ['#/lessons', 'Subject', /^Booked “(first|second)”/],
    ['#/contact-requests', 'Message', /^Request sent\.$/],
  ] as const)('at %s goes into a status region that was there before it', async (hash, label, done) => {
    window.history.replaceState(null, '', hash)
    const { store } = appStore(api)
    renderApp(page.root, store)
    await eventually(() => expect(fieldLabelled(page.container, 'Tutor', HTMLSelectElement).options.length).toBe(2))
    const tutor = fieldLabelled(page.container, 'Tutor', HTMLSelectElement)
    act(() => {
      tutor.value = bob.id
      tutor.dispatchEvent(new Event('change', { bubbles: true }))
    })
    const form = tutor.closest('section')!
    for (const text of ['first', 'second']) {
      const regionsBefore = [...form.querySelectorAll('[role=status]')]
      type(fieldLabelled(page.container, label) as HTMLInputElement | HTMLTextAreaElement, text)
      act(() => tutor.closest('form')!.requestSubmit())
      const region = await eventually(() => {
        const holding = [...form.querySelectorAll('[role=status]')].find((r) => done.test(r.textContent ?? ''))
        expect(holding).toBeDefined()
        return holding!
      })
      expect(regionsBefore, `the region saying "${region.textContent}" was in the page before it`).toContain(region)
    }
    store.dispose()
  })
})
