/** Entities as they travel as JSON over HTTP and over the socket. Times are ISO-8601 strings. */

export type Id = string

export type Role = 'student' | 'tutor'

export interface User {
  id: Id
  name: string
  role: Role
  /** In `/api/users`: whether they have a socket open now; `null` for people who share no conversation with the asker. */
  online?: boolean | null
  /** When their last socket closed; `null` when never seen, or for people who share no conversation with the asker. */
  lastSeenAt?: string | null
}

export interface Message {
  id: Id
  conversationId: Id
  /** 1, 2, 3… per conversation, in the order the server stored them: orders a thread and reveals gaps. */
  seq: number
  senderId: Id
  content: string
  createdAt: string
  /** The sender's idempotency key; `null` for messages stored without one (seed data). */
  clientId: string | null
}

export interface Conversation {
  id: Id
  participantIds: Id[]
  lastMessage: Message | null
  /** For the user asking. */
  unreadCount: number
  updatedAt: string
  /** Each participant's last read `seq` (0: nothing read yet): the thread's "Seen" comes from the other's. */
  readSeq: Record<Id, number>
}

export const LESSON_STATUSES = ['pending', 'confirmed', 'cancelled', 'completed'] as const
export type LessonStatus = (typeof LESSON_STATUSES)[number]

export interface Lesson {
  id: Id
  tutorId: Id
  studentId: Id
  subject: string
  startsAt: string
  durationMinutes: number
  status: LessonStatus
  updatedAt: string
}

export const CONTACT_REQUEST_STATUSES = ['pending', 'accepted', 'declined'] as const
export type ContactRequestStatus = (typeof CONTACT_REQUEST_STATUSES)[number]

export interface ContactRequest {
  id: Id
  studentId: Id
  tutorId: Id
  message: string
  status: ContactRequestStatus
  createdAt: string
  updatedAt: string
}
