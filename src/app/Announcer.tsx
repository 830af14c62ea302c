import { createContext, useCallback, useContext, useState, type ReactNode } from 'react'

export type Politeness = 'polite' | 'assertive'

type Announce = (text: string, politeness?: Politeness) => void

const AnnounceContext = createContext<Announce>(() => {})

interface Said {
  text: string
  /** A new key per announcement, so the same words said twice are a new node that screen readers read again. */
  key: number
}

/**
 * Two visually hidden live regions, present from the first render (a region created together with its text is not
 * read): `polite` waits for the screen reader to finish (new messages, toasts), `assertive` interrupts (the
 * connection is lost). Components say one short sentence through `useAnnounce()`, so nothing repeats a whole list.
 *
 * @example const announce = useAnnounce(); announce('New message from Bob: Hi')
 */
export function AnnouncerProvider({ children }: { children: ReactNode }) {
  const [said, setSaid] = useState<Record<Politeness, Said>>({
    polite: { text: '', key: 0 },
    assertive: { text: '', key: 0 },
  })
  const announce = useCallback<Announce>((text, politeness = 'polite') => {
    setSaid((s) => ({ ...s, [politeness]: { text, key: s[politeness].key + 1 } }))
  }, [])
  return (
    <AnnounceContext value={announce}>
      {children}
      <div className="sr-only" role="status" aria-live="polite" data-testid="announcer-polite">
        <span key={said.polite.key}>{said.polite.text}</span>
      </div>
      <div className="sr-only" role="alert" aria-live="assertive" data-testid="announcer-assertive">
        <span key={said.assertive.key}>{said.assertive.text}</span>
      </div>
    </AnnounceContext>
  )
}

/** Says a sentence to screen-reader users without moving focus. */
export function useAnnounce(): Announce {
  return useContext(AnnounceContext)
}
