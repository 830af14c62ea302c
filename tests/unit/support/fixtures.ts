import type { UnknownAction } from '@reduxjs/toolkit'
import type { ContactRequest, Conversation, Lesson, Message, User } from '../../../src/contract'
import type { PendingMessage } from '../../../src/realtime/socketSlice'

export const alice: User = { id: 'u-alice', name: 'Alice', role: 'student' }
export const bob: User = { id: 'u-bob', name: 'Bob', role: 'tutor' }

export const T0 = '2026-11-24T08:00:00.000Z'
export const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString()

export function message(seq: number, over: Partial<Message> = {}): Message {
  return {
    id: `m${seq}`,
    conversationId: 'c1',
    seq,
    senderId: bob.id,
    content: `message ${seq}`,
    createdAt: at(seq),
    clientId: null,
    ...over,
  }
}

export function conversation(id: string, over: Partial<Conversation> = {}): Conversation {
  return {
    id,
    participantIds: [alice.id, bob.id],
    lastMessage: null,
    unreadCount: 0,
    updatedAt: T0,
    readSeq: { [alice.id]: 0, [bob.id]: 0 },
    ...over,
  }
}

export function lesson(id: string, over: Partial<Lesson> = {}): Lesson {
  return {
    id,
    tutorId: bob.id,
    studentId: alice.id,
    subject: 'Algebra',
    startsAt: at(60 * 24),
    durationMinutes: 60,
    status: 'pending',
    updatedAt: T0,
    ...over,
  }
}

export function contactRequest(id: string, over: Partial<ContactRequest> = {}): ContactRequest {
  return {
    id,
    studentId: alice.id,
    tutorId: bob.id,
    message: 'Hello',
    status: 'pending',
    createdAt: T0,
    updatedAt: T0,
    ...over,
  }
}

/** An outbox entry (a send not confirmed yet): `pending`, never tried, in c1, written at T0. */
export function pendingMessage(clientId: string, over: Partial<PendingMessage> = {}): PendingMessage {
  return {
    clientId,
    conversationId: 'c1',
    content: `text ${clientId}`,
    createdAt: T0,
    status: 'pending',
    attempts: 0,
    error: null,
    ...over,
  }
}

/** An unsigned JWT with these claims (the browser never checks signatures; the server does). */
export const jwt = (claims: Record<string, unknown>) =>
  `${['{"alg":"HS256"}', JSON.stringify(claims)].map((part) => Buffer.from(part).toString('base64url')).join('.')}.sig`

/** The action RTK Query dispatches when `getMessages(conversationId)` has read `thread` over HTTP. */
export function messagesFetched(conversationId: string, thread: Message[]): UnknownAction {
  return {
    type: 'api/executeQuery/fulfilled',
    payload: thread,
    meta: {
      arg: {
        type: 'query',
        endpointName: 'getMessages',
        originalArgs: conversationId,
        queryCacheKey: `getMessages(${JSON.stringify(conversationId)})`,
      },
      requestId: 'r1',
      requestStatus: 'fulfilled',
      fulfilledTimeStamp: 1,
      baseQueryMeta: {},
    },
  }
}
