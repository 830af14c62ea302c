import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { createIntl } from 'react-intl'
import { describe, expect, it, test } from 'vitest'
import { connectionAnnouncement, BADGE } from '../../src/app/connectionWords'
import { focusTargetAfter } from '../../src/app/focus'
import { arrivedFromOthers } from '../../src/features/messages/arrivals'
import {
  catalogues,
  createDateFormatters,
  en,
  formattingLocale,
  fr,
  pickLocale,
  type Locale,
  type MessageId,
} from '../../src/i18n'
import type { ConnectionStatus } from '../../src/realtime'

const SRC = path.resolve('src')
const CATALOGUE_FILES = new Set([path.join(SRC, 'i18n/en.ts'), path.join(SRC, 'i18n/fr.ts')])

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name)
    if (d.isDirectory()) return sourceFiles(p)
    return /\.tsx?$/.test(d.name) && !CATALOGUE_FILES.has(p) ? [p] : []
  })
}

/** Every source file outside the catalogues, read once. */
const sources = sourceFiles(SRC).map((file) => ({ file, text: readFileSync(file, 'utf8') }))
/** Every quoted literal in the sources ('…', "…"): message ids are always written whole, never built. */
const literals = new Set(sources.flatMap(({ text }) => [...text.matchAll(/(['"])([\w.-]+)\1/g)].map((m) => m[2]!)))

const keys = Object.keys(en) as MessageId[]
const intl = (locale: Locale) =>
  createIntl({
    locale,
    messages: catalogues[locale],
    onError: (e) => {
      throw e
    },
  })

interface AstNode {
  type: number
  value?: unknown
  options?: Record<string, { value: AstNode[] }>
  children?: AstNode[]
}

/** The argument names a message uses (`{name}`, `{count, plural, …}`), read from ICU's own parse of it. */
function argumentsOf(message: string, locale: Locale): string[] {
  const ast = intl(locale).formatters.getMessageFormat(message, locale).getAst() as AstNode[]
  const names = new Set<string>()
  const walk = (nodes: AstNode[]) => {
    for (const node of nodes) {
      // 0 is literal text and 7 the plural's `#`; every other node names an argument.
      if (node.type !== 0 && node.type !== 7 && typeof node.value === 'string') names.add(node.value)
      for (const option of Object.values(node.options ?? {})) walk(option.value)
      walk(node.children ?? [])
    }
  }
  walk(ast)
  return [...names].sort()
}

/** Sample values for every argument any message has. */
const SAMPLE: Record<string, string | number> = {
  count: 2,
  conversations: 2,
  name: 'Bob',
  names: 'Bob and Carol',
  role: 'tutor',
  content: 'Hi',
  status: 'confirmed',
  subject: 'Algebra',
  reason: 'x',
  length: 2001,
  max: 2000,
  when: '24 Nov',
  today: 'no',
  day: '24 Nov',
  minutes: 45,
  password: 'talemy',
  time: '4:32 PM',
  toast: 'New contact request',
}

describe('the catalogues', () => {
  it('have the same keys in English and French', () => {
    expect(Object.keys(fr).sort()).toEqual([...keys].sort())
  })

  test.each(keys)('%s is used in the source', (key) => {
    expect(literals.has(key), `no quoted '${key}' in src/ (outside the catalogues): remove it or use it`).toBe(true)
  })

  it("name no id in the source that is not a key (t(…), id=\"…\", id: '…', label: '…')", () => {
    const used = sources.flatMap(({ file, text }) =>
      [...text.matchAll(/\bt\(\s*'([^']+)'|\bid="([^"]+)"|\bid: '([^']+)'/g)]
        .map((m) => ({ file, id: m[1] ?? m[2] ?? m[3]! }))
        // DOM ids written as literals (id="conv-heading", id="lessons-list", id="main") are not messages.
        .filter(({ id }) => id.includes('.')),
    )
    expect(used.length).toBeGreaterThan(50)
    expect(used.filter(({ id }) => !(id in en))).toEqual([])
  })

  test.each(keys)('%s takes the same arguments in both languages and formats in each', (key) => {
    expect(argumentsOf(fr[key], 'fr')).toEqual(argumentsOf(en[key], 'en'))
    for (const locale of ['en', 'fr'] as const) {
      const text = intl(locale).formatMessage({ id: key }, SAMPLE)
      expect(text).not.toMatch(/[{}]/)
      expect(text.length).toBeGreaterThan(0)
    }
  })

  it('keep the contract’s English badge words exactly (end-to-end tests read them), and give French ones', () => {
    const words = (locale: Locale, status: ConnectionStatus) => intl(locale).formatMessage({ id: BADGE[status].id })
    expect((['connected', 'reconnecting', 'disconnected', 'unauthorized'] as const).map((s) => words('en', s))).toEqual(
      ['online', 'reconnecting…', 'offline', 'session expired'],
    )
    expect(en['connection.overHttp']).toBe('messages go over HTTP')
    expect(words('fr', 'connected')).toBe('en ligne')
    expect(words('fr', 'disconnected')).toBe('hors ligne')
  })

  it('call a lesson by one name in French: « cours », as the Lessons page and its buttons do, never « leçon »', () => {
    expect(Object.keys(fr).filter((key) => /leçon/i.test(fr[key as MessageId]))).toEqual([])
  })
})

// The only words shown before the app runs (no JavaScript, so no language chosen): were English only.
describe('the page without JavaScript', () => {
  it('says what it needs in English and in French, each marked with its language', () => {
    const html = readFileSync('index.html', 'utf8')
    const noscript = html.match(/<noscript>([\s\S]*?)<\/noscript>/)?.[1] ?? ''
    expect(noscript).toContain('Talemy needs JavaScript to run.')
    expect(noscript).toMatch(/<[a-z]+ lang="fr">Talemy a besoin de JavaScript pour fonctionner\.<\/[a-z]+>/)
  })
})

describe('plurals', () => {
  test.each([
    ['en', 1, '1 unread message'],
    ['en', 3, '3 unread messages'],
    ['en', 0, '0 unread messages'],
    ['fr', 1, '1 message non lu'],
    ['fr', 3, '3 messages non lus'],
    // French counts 0 as singular.
    ['fr', 0, '0 message non lu'],
  ] as const)('%s, %i → %s', (locale, count, text) => {
    expect(intl(locale).formatMessage({ id: 'count.unreadMessages' }, { count })).toBe(text)
  })

  it('the logout warning agrees with the number of unsent messages', () => {
    expect(intl('en').formatMessage({ id: 'layout.logOutConfirm' }, { count: 1 })).toBe(
      '1 message has not been sent yet. Log out anyway and discard it?',
    )
    expect(intl('fr').formatMessage({ id: 'layout.logOutConfirm' }, { count: 2 })).toBe(
      '2 messages n’ont pas encore été envoyés. Se déconnecter quand même et les abandonner\u202f?',
    )
  })

  test.each([
    ['en', 5, 4, '5 messages in 4 conversations were not sent.'],
    ['en', 1, 1, '1 message in 1 conversation was not sent.'],
    ['fr', 5, 4, '5 messages n’ont pas été envoyés dans 4 conversations.'],
    ['fr', 1, 1, '1 message n’a pas été envoyé dans 1 conversation.'],
  ] as const)('sends refused in many conversations, %s: %i in %i → %s', (locale, count, conversations, text) => {
    expect(intl(locale).formatMessage({ id: 'messages.notSentInMany' }, { count, conversations })).toBe(text)
  })

  it('durations and toasts pick their words by number and status', () => {
    expect(intl('fr').formatMessage({ id: 'lessons.minutes' }, { count: 90 })).toBe('90 minutes')
    expect(
      intl('fr').formatMessage({ id: 'toast.lessonStatus' }, { subject: 'Algèbre', name: 'Bob', status: 'cancelled' }),
    ).toBe('Cours «\u202fAlgèbre\u202f» (Bob) annulé')
    expect(intl('en').formatMessage({ id: 'requests.statusSaid' }, { name: 'Bob', status: 'declined' })).toBe(
      'Contact request (Bob) declined',
    )
  })
})

describe('someone the page cannot name', () => {
  // "Someone" stands alone (a thread's heading, a conversation's name in the list) and starts a sentence ("Someone is
  // typing…"); inside one, the name given is `people.someoneInSentence` (`People.nameInSentence`): "A message to
  // someone was not sent.", not "A message to Someone…" (tests/spa/someoneInSentence.test.tsx).
  test.each([
    ['en', 'Someone', 'someone'],
    ['fr', 'Quelqu’un', 'quelqu’un'],
  ] as const)('(%s) is “%s” alone, “%s” inside a sentence', (locale, alone, inSentence) => {
    expect(catalogues[locale]['people.someone']).toBe(alone)
    expect(catalogues[locale]['people.someoneInSentence']).toBe(inSentence)
    expect(inSentence).toBe(inSentence.toLocaleLowerCase(locale))
  })

  test.each([
    ['en', 'messages.notSentTo', 'A message to someone was not sent.'],
    ['en', 'requests.declineAsk', 'Decline someone’s request? This cannot be undone.'],
    ['fr', 'messages.notSentTo', 'Un message à quelqu’un n’a pas été envoyé.'],
    ['fr', 'lessons.cancelAsk', 'Annuler «\u202fAlgebra\u202f» avec quelqu’un\u202f? C’est définitif.'],
  ] as const)('(%s) %s → %s', (locale, key, text) => {
    const name = catalogues[locale]['people.someoneInSentence']
    expect(intl(locale).formatMessage({ id: key }, { ...SAMPLE, count: 1, name })).toBe(text)
  })
})

describe('numbers, written the language’s way', () => {
  // The composer's count runs past 4,000 (the contract's limit): a bare `{max}` would print "4000" in both languages.
  test.each([
    ['en', '4,001 / 4,000 characters: too long; shorten it.'],
    ['fr', '4\u202f001 / 4\u202f000 caractères\u202f: trop long\u202f; raccourcissez-le.'],
  ] as const)('%s: %s', (locale, text) => {
    expect(intl(locale).formatMessage({ id: 'thread.tooLong' }, { length: 4001, max: 4000 })).toBe(text)
  })
})

describe('dates and times, in the chosen language and the user’s time zone', () => {
  const at = '2026-11-24T08:30:00.000Z'
  test.each([
    ['fr', 'Europe/Paris', '24 nov. 2026, 09:30'],
    ['en-GB', 'Europe/Paris', '24 Nov 2026, 09:30'],
    ['en-US', 'America/New_York', 'Nov 24, 2026, 3:30 AM'],
    ['fr', 'Asia/Tokyo', '24 nov. 2026, 17:30'],
  ])('%s in %s', (locale, zone, text) => {
    expect(createDateFormatters(locale, zone).dateTime(at).replace(/\s/g, ' ')).toBe(text)
  })

  it('a message of today shows the time only, today being the user’s day, not UTC’s', () => {
    const now = new Date('2026-11-24T23:30:00.000Z')
    // 08:30 UTC is today in Paris (now is 00:30 on the 25th there: no, yesterday) and in New York (18:30 on the 24th).
    expect(createDateFormatters('fr', 'America/New_York').messageTime(at, now)).toBe('03:30')
    expect(createDateFormatters('fr', 'Europe/Paris').messageTime(at, now).replace(/\s/g, ' ')).toBe('24 nov., 09:30')
    expect(createDateFormatters('en-GB', 'Europe/Paris').messageTime(at, now)).toBe('24 Nov, 09:30')
  })

  it('a message of an earlier year shows its year, in each language ("24 Nov 2025", not a "24 Nov" read as this year)', () => {
    const now = new Date('2026-03-02T10:00:00.000Z')
    const lastYear = '2025-11-24T08:30:00.000Z'
    expect(createDateFormatters('en-GB', 'Europe/Paris').messageTime(lastYear, now)).toBe('24 Nov 2025, 09:30')
    expect(createDateFormatters('fr', 'Europe/Paris').messageTime(lastYear, now).replace(/\s/g, ' ')).toBe(
      '24 nov. 2025, 09:30',
    )
    expect(createDateFormatters('en-US', 'America/New_York').messageTime(lastYear, now).replace(/\s/g, ' ')).toBe(
      'Nov 24, 2025, 3:30 AM',
    )
    // This year's stay without one.
    expect(
      createDateFormatters('fr', 'Europe/Paris').messageTime('2026-01-20T08:00:00.000Z', now).replace(/\s/g, ' '),
    ).toBe('20 janv., 09:00')
  })

  it('"an earlier year" is the user’s year, not UTC’s: New Year’s Eve is last year in Paris and today in New York', () => {
    // 00:30 on 1 January 2027 in Paris, 18:30 on 31 December 2026 in New York.
    const now = new Date('2026-12-31T23:30:00.000Z')
    const eve = '2026-12-31T22:00:00.000Z'
    expect(createDateFormatters('fr', 'Europe/Paris').messageTime(eve, now).replace(/\s/g, ' ')).toBe(
      '31 déc. 2026, 23:00',
    )
    expect(createDateFormatters('en-US', 'America/New_York').messageTime(eve, now).replace(/\s/g, ' ')).toBe('5:00 PM')
  })

  it('tells today apart where the user is, and gives the day and the time apart (for "hors ligne depuis le 24 nov. à 09:30")', () => {
    const now = new Date('2026-11-24T23:30:00.000Z')
    expect(createDateFormatters('fr', 'America/New_York').isToday(at, now)).toBe(true)
    expect(createDateFormatters('fr', 'Europe/Paris').isToday(at, now)).toBe(false)
    expect(createDateFormatters('fr', 'Europe/Paris').isToday('not a date', now)).toBe(false)
    expect(createDateFormatters('fr', 'Europe/Paris').day(at, now).replace(/\s/g, ' ')).toBe('24 nov.')
    expect(createDateFormatters('fr', 'Europe/Paris').time(at)).toBe('09:30')
    expect(createDateFormatters('en-GB', 'Europe/Paris').day(at, now)).toBe('24 Nov')
  })

  it('a day of an earlier year shows its year, in each language and in the user’s year ("hors ligne depuis le 20 janv. 2025")', () => {
    const now = new Date('2026-03-02T10:00:00.000Z')
    const lastYear = '2025-01-20T08:00:00.000Z'
    expect(createDateFormatters('fr', 'Europe/Paris').day(lastYear, now).replace(/\s/g, ' ')).toBe('20 janv. 2025')
    expect(createDateFormatters('en-GB', 'Europe/Paris').day(lastYear, now)).toBe('20 Jan 2025')
    expect(createDateFormatters('en-US', 'America/New_York').day(lastYear, now)).toBe('Jan 20, 2025')
    expect(createDateFormatters('fr', 'Europe/Paris').day('2026-01-20T08:00:00.000Z', now).replace(/\s/g, ' ')).toBe(
      '20 janv.',
    )
    expect(createDateFormatters('fr', 'Europe/Paris').day('not a date', now)).toBe('')
    // 00:30 on 1 January 2027 in Paris, 18:30 on 31 December 2026 in New York.
    const newYear = new Date('2026-12-31T23:30:00.000Z')
    const eve = '2026-12-30T22:00:00.000Z'
    expect(createDateFormatters('fr', 'Europe/Paris').day(eve, newYear).replace(/\s/g, ' ')).toBe('30 déc. 2026')
    expect(createDateFormatters('en-US', 'America/New_York').day(eve, newYear)).toBe('Dec 30')
  })

  it('an unreadable date shows nothing rather than "Invalid Date"', () => {
    expect(createDateFormatters('fr', 'Europe/Paris').dateTime('not a date')).toBe('')
  })
})

describe('which language', () => {
  test.each([
    [null, ['fr-FR', 'en-US'], 'fr'],
    [null, ['en-US', 'fr'], 'en'],
    [null, ['de-DE', 'fr-CH', 'en'], 'fr'],
    [null, ['de-DE'], 'en'],
    [null, [], 'en'],
    ['en', ['fr-FR'], 'en'],
    ['fr', ['en-US'], 'fr'],
    ['xx', ['fr'], 'fr'],
  ] as const)('stored %s, browser %j → %s', (stored, languages, locale) => {
    expect(pickLocale({ stored, languages })).toBe(locale)
  })

  it('formats with the browser’s own variant of the chosen language', () => {
    expect(formattingLocale('en', ['fr-FR', 'en-GB'])).toBe('en-GB')
    expect(formattingLocale('fr', ['en-US'])).toBe('fr')
    expect(formattingLocale('fr', ['fr-ca'])).toBe('fr-CA')
  })
})

describe('what screen readers hear when the connection changes', () => {
  test.each([
    ['connecting', 'connected', null],
    ['connected', 'reconnecting', { id: 'connection.announce.lost', politeness: 'assertive' }],
    ['reconnecting', 'reconnecting', null],
    ['reconnecting', 'connected', { id: 'connection.announce.back', politeness: 'polite' }],
    ['connected', 'disconnected', { id: 'connection.announce.offline', politeness: 'assertive' }],
    ['idle', 'disconnected', null],
    ['reconnecting', 'unauthorized', { id: 'connection.announce.expired', politeness: 'assertive' }],
    ['connected', 'idle', null],
  ] as const)('%s → %s', (before, now, expected) => {
    expect(connectionAnnouncement(before, now)).toEqual(expected)
  })

  // A loss or an expiry was said and no connect has followed: the next `connected` says it is back, whatever came
  // between (unauthorized → connecting when another tab's login of the same user revives this one; offline → connect).
  test.each([
    ['connecting', 'connected', true, { id: 'connection.announce.back', politeness: 'polite' }],
    ['connecting', 'connected', false, null],
    ['reconnecting', 'connected', true, { id: 'connection.announce.back', politeness: 'polite' }],
    ['unauthorized', 'connecting', true, null],
  ] as const)('%s → %s after a loss said: %s', (before, now, lost, expected) => {
    expect(connectionAnnouncement(before, now, lost)).toEqual(expected)
  })
})

describe('where focus goes after a navigation', () => {
  test.each([
    [null, { page: 'messages', conversationId: null }, 'heading'],
    [null, { page: 'messages', conversationId: 'c1' }, 'composer'],
    [{ page: 'messages', conversationId: null }, { page: 'messages', conversationId: 'c1' }, 'composer'],
    [{ page: 'messages', conversationId: 'c1' }, { page: 'messages', conversationId: null }, 'heading'],
    [{ page: 'messages', conversationId: 'c1' }, { page: 'lessons' }, 'heading'],
    [{ page: 'lessons' }, { page: 'lessons' }, null],
  ] as const)('%j → %j: %s', (before, now, target) => {
    expect(focusTargetAfter(before, now)).toBe(target)
  })
})

describe('which new messages are announced', () => {
  const m = (seq: number, senderId: string, status?: 'pending' | 'sent' | 'failed') => ({ seq, senderId, status })
  it('nothing on the first look; later only stored messages from others that the last look did not hold', () => {
    const first = arrivedFromOthers(null, [m(1, 'bob'), m(2, 'me')], 'me')
    expect(first).toEqual({ fresh: [], look: { floor: 1, seqs: new Set([1, 2]) } })
    const later = arrivedFromOthers(
      first.look,
      [m(1, 'bob'), m(2, 'me'), m(3, 'bob'), m(4, 'me'), m(0, 'me', 'pending')],
      'me',
    )
    expect(later).toEqual({ fresh: [m(3, 'bob')], look: { floor: 1, seqs: new Set([1, 2, 3, 4]) } })
  })
  it('older messages loaded above are not news', () => {
    const look = { floor: 10, seqs: new Set([10]) }
    expect(arrivedFromOthers(look, [m(5, 'bob'), m(6, 'bob'), m(10, 'me')], 'me').fresh).toEqual([])
  })
  it('a message below the newest seen that the last look did not hold is news (a thread read again after a gap)', () => {
    const look = { floor: 1, seqs: new Set([1, 4]) }
    expect(arrivedFromOthers(look, [m(1, 'bob'), m(2, 'bob'), m(3, 'me'), m(4, 'bob')], 'me').fresh).toEqual([
      m(2, 'bob'),
    ])
  })
  it('an empty thread: its first message is news', () => {
    const first = arrivedFromOthers(null, [], 'me')
    expect(arrivedFromOthers(first.look, [m(1, 'bob')], 'me').fresh).toEqual([m(1, 'bob')])
  })
})
