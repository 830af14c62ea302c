export { en, type MessageId, type Catalogue } from './en'
export { fr } from './fr'
export { catalogues, type Message } from './catalogues'
export { atWallClock, createDateFormatters, systemTimeZone, type DateFormatters } from './dates'
export {
  LOCALES,
  LANGUAGE_NAMES,
  LOCALE_STORAGE_KEY,
  formattingLocale,
  isLocale,
  pickLocale,
  type Locale,
} from './locale'
export { I18nProvider, useDates, useLocale, useT, type Translate } from './I18nProvider'
