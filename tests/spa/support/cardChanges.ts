import { contactRequest, lesson } from '../../unit/support/fixtures'

/**
 * The two cards whose change a tutor presses without a question first: the case's name, the page's hash, the card's
 * `data-testid`, the list's path, the card's item, and the button pressed.
 */
export const TUTOR_CARD_CHANGES = [
  ['a lesson confirmed by its tutor', '#/lessons', 'lesson', '/api/lessons', lesson('l1'), 'Confirm'],
  [
    'a request accepted by its tutor',
    '#/contact-requests',
    'contact-request',
    '/api/contact-requests',
    contactRequest('r1'),
    'Accept',
  ],
] as const
