import { useEffect, useSyncExternalStore } from 'react'
import { useAnnounce } from '../../app/Announcer'
import { useAppStore } from '../../app/hooks'
import { useT } from '../../i18n'

/** The spell of unsent messages the page could not save (`store.unsavedOutbox`), or 0. */
function useUnsavedSpell(): number {
  const { unsavedOutbox } = useAppStore()
  return useSyncExternalStore(unsavedOutbox.subscribe, unsavedOutbox.getSnapshot)
}

/**
 * Says once, politely, that unsent messages could not be saved (the messages page calls it, wherever the notice is
 * drawn): once per spell, also when the page is left and opened again, or the notice moves to another thread.
 */
export function useSayUnsaved(): void {
  const spell = useUnsavedSpell()
  const { unsavedOutbox } = useAppStore()
  const announce = useAnnounce()
  const t = useT()
  useEffect(() => {
    if (unsavedOutbox.firstToSay(spell)) announce(t('messages.unsaved'))
  }, [spell, unsavedOutbox, announce, t])
}

/**
 * While this tab's unsent messages could not be saved (the storage refused them, or there is none), the words that
 * ask to keep the page open. Not a live region: `useSayUnsaved` says it once.
 */
export function UnsavedNotice() {
  const t = useT()
  if (!useUnsavedSpell()) return null
  return (
    <p className="unsaved-notice" data-testid="unsaved-notice">
      {t('messages.unsaved')}
    </p>
  )
}
