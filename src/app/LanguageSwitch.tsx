import { LANGUAGE_NAMES, LOCALES, useLocale, useT } from '../i18n'

/**
 * The header's language switch: one button per language, showing its code and named in its own language (`lang` set,
 * so a screen reader pronounces it right), the current one pressed. The choice is remembered (see `I18nProvider`).
 */
export function LanguageSwitch() {
  const t = useT()
  const { locale, setLocale } = useLocale()
  return (
    // A fieldset is a group (its implicit role); named by aria-label, as a visible legend would crowd the top bar.
    <fieldset className="lang-switch" aria-label={t('layout.language')}>
      {LOCALES.map((l) => (
        <button
          key={l}
          type="button"
          lang={l}
          className="lang-option"
          aria-pressed={l === locale}
          data-testid={`lang-${l}`}
          onClick={() => setLocale(l)}
        >
          {/* Named "FR Français": what it shows first, so voice control finds it by that (WCAG 2.5.3). */}
          {l.toUpperCase()}
          <span className="sr-only"> {LANGUAGE_NAMES[l]}</span>
        </button>
      ))}
    </fieldset>
  )
}
