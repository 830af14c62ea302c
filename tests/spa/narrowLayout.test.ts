import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { NARROW_LAYOUT } from '../../src/features/messages/narrowFocus'

// The focus kept on a narrowing listens for the query the stylesheet hides the list by: drifted apart, focus would move
// at another width than the one that hides what holds it.
test('the narrowing the Messages page listens for is the stylesheet’s one-pane layout', () => {
  const css = readFileSync(join(import.meta.dirname, '../../src/styles.css'), 'utf8')
  const onePane = css.slice(css.indexOf(`@media ${NARROW_LAYOUT}`))
  expect(css).toContain(`@media ${NARROW_LAYOUT} {`)
  expect(onePane.slice(0, onePane.indexOf('\n}'))).toContain('.messages.has-thread .conv-pane > :not(h1)')
})
