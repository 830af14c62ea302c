import { createAccounts } from './accounts'
import { createBookings } from './bookings'
import type { ServiceContext } from './context'
import { createMessaging } from './messaging'

export type { Notifier, Presence, ServiceContext } from './context'
export type { Session } from './accounts'

/** The operations HTTP and the socket share: validation, permissions, storage and notifications live here. */
export function createServices(ctx: ServiceContext) {
  return {
    accounts: createAccounts(ctx),
    messaging: createMessaging(ctx),
    bookings: createBookings(ctx),
  }
}

export type Services = ReturnType<typeof createServices>
