import { en, type Catalogue, type MessageId } from './en'
import { fr } from './fr'
import type { Locale } from './locale'

export const catalogues: Record<Locale, Catalogue> = { en, fr }

// react-intl's ids become ours: `formatMessage({ id })` and `<FormattedMessage id>` with an unknown id do not compile.
declare global {
  namespace FormatjsIntl {
    interface Message {
      ids: MessageId
    }
  }
}

/** A message to show later (a toast, an error), in whatever language is chosen by then. */
export interface Message {
  id: MessageId
  values?: Record<string, string | number>
}
