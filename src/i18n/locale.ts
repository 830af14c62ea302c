/** The languages the SPA speaks. */
export const LOCALES = ['en', 'fr'] as const
export type Locale = (typeof LOCALES)[number]

/** Each language's name in itself, for the switch (a name a person looks for in their own language). */
export const LANGUAGE_NAMES: Record<Locale, string> = { en: 'English', fr: 'Français' }

/** Where the header's switch remembers the choice (`localStorage`). */
export const LOCALE_STORAGE_KEY = 'talemy.locale'

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value)
}

const languageOf = (tag: string) => tag.toLowerCase().split(/[-_]/)[0] ?? ''

/**
 * The language to show: the one the user chose before (stored), else French when the browser prefers French over
 * English, else English. Only the first of the browser's languages that we speak counts, so `['de', 'fr', 'en']`
 * gives French and `['en-US', 'fr']` English.
 *
 * @example pickLocale({ stored: null, languages: ['fr-FR', 'en'] }) // 'fr'
 */
export function pickLocale({ stored, languages }: { stored: string | null; languages: readonly string[] }): Locale {
  if (isLocale(stored)) return stored
  for (const tag of languages) {
    const language = languageOf(tag)
    if (isLocale(language)) return language
  }
  return 'en'
}

/**
 * The tag dates and numbers are formatted with: the browser's own variant of the chosen language when it has one
 * (`en-GB` writes 24/11/2026, `en-US` 11/24/2026, `fr-CA` 2026-11-24), else the language itself.
 *
 * @example formattingLocale('en', ['fr-FR', 'en-GB']) // 'en-GB'
 */
export function formattingLocale(locale: Locale, languages: readonly string[]): string {
  const own = languages.find((tag) => languageOf(tag) === locale)
  if (!own) return locale
  try {
    return Intl.getCanonicalLocales(own)[0] ?? locale
  } catch {
    return locale
  }
}

/** The storage the choice lives in, or `null` where there is none (private modes may throw on access). */
export function readStoredLocale(storage: Pick<Storage, 'getItem'> | undefined): string | null {
  try {
    return storage?.getItem(LOCALE_STORAGE_KEY) ?? null
  } catch {
    return null
  }
}

export function storeLocale(storage: Pick<Storage, 'setItem'> | undefined, locale: Locale): void {
  try {
    storage?.setItem(LOCALE_STORAGE_KEY, locale)
  } catch {
    // Not remembered (storage full or refused): the choice still holds for this page.
  }
}
