const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const time = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' })
const day = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' })

function valid(iso: string): Date | null {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? null : d
}

/** "24 Nov 2026, 09:30" */
export function formatDateTime(iso: string): string {
  const d = valid(iso)
  return d ? dateTime.format(d) : ''
}

/** Today's messages show the time, older ones the day. */
export function formatMessageTime(iso: string, now = new Date()): string {
  const d = valid(iso)
  if (!d) return ''
  return d.toDateString() === now.toDateString() ? time.format(d) : `${day.format(d)}, ${time.format(d)}`
}

/** A `datetime-local` input's value for a date, in local time: "2026-11-25T10:00". */
export function toDateTimeLocal(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}
