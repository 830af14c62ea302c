import { useLayoutEffect, type RefObject } from 'react'
import { useT } from '../../i18n'

type Field = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement

/**
 * The words a field says when it holds its form back ("Fill in this field."), in the SPA's language: the browser says
 * its own in its own language, which the language switch does not reach. After every drawing (controlled fields draw
 * at each change) the field's custom message says what its value lacks now, or nothing: a message left from before
 * would hold the form back by itself once the value is right. A date typed in part has no value either, but it was
 * filled in: it says it is incomplete. Typing a part changes no value, so no drawing follows: the words are chosen
 * again when the form is checked (the field's `invalid`, before the browser shows them).
 *
 * @example const emailRef = useRef<HTMLInputElement>(null); useFieldWords(emailRef); <input ref={emailRef} required />
 */
export function useFieldWords(ref: RefObject<Field | null>): void {
  const t = useT()
  useLayoutEffect(() => {
    const field = ref.current
    if (!field) return
    const choose = () => {
      field.setCustomValidity('')
      const { validity } = field
      field.setCustomValidity(
        validity.badInput && field.type === 'datetime-local'
          ? t('form.incompleteDate')
          : validity.valueMissing
            ? t(field instanceof HTMLSelectElement ? 'form.choose' : 'form.fill')
            : validity.typeMismatch && field.type === 'email'
              ? t('form.email')
              : '',
      )
    }
    choose()
    field.addEventListener('invalid', choose)
    return () => field.removeEventListener('invalid', choose)
  })
}
