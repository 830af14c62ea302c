import type { ContactRequest, Lesson, Message, User } from '../../src/contract'

/** Database rows and their mapping to the contract's entities (times as ISO strings). */

export interface UserRow {
  id: string
  name: string
  role: User['role']
}
export interface MessageRow {
  id: string
  conversation_id: string
  seq: number
  sender_id: string
  content: string
  client_id: string | null
  created_at: Date | string
}
export interface LessonRow {
  id: string
  tutor_id: string
  student_id: string
  subject: string
  starts_at: Date | string
  duration_minutes: number
  status: Lesson['status']
  updated_at: Date | string
}
export interface ContactRequestRow {
  id: string
  student_id: string
  tutor_id: string
  message: string
  status: ContactRequest['status']
  created_at: Date | string
  updated_at: Date | string
}

export const iso = (value: Date | string): string => new Date(value).toISOString()

export const toUser = (row: UserRow): User => ({ id: row.id, name: row.name, role: row.role })

export const toMessage = (row: MessageRow): Message => ({
  id: row.id,
  conversationId: row.conversation_id,
  seq: Number(row.seq),
  senderId: row.sender_id,
  content: row.content,
  createdAt: iso(row.created_at),
  clientId: row.client_id,
})

export const toLesson = (row: LessonRow): Lesson => ({
  id: row.id,
  tutorId: row.tutor_id,
  studentId: row.student_id,
  subject: row.subject,
  startsAt: iso(row.starts_at),
  durationMinutes: Number(row.duration_minutes),
  status: row.status,
  updatedAt: iso(row.updated_at),
})

export const toContactRequest = (row: ContactRequestRow): ContactRequest => ({
  id: row.id,
  studentId: row.student_id,
  tutorId: row.tutor_id,
  message: row.message,
  status: row.status,
  createdAt: iso(row.created_at),
  updatedAt: iso(row.updated_at),
})

export const MESSAGE_COLUMNS = 'id, conversation_id, seq, sender_id, content, client_id, created_at'
export const LESSON_COLUMNS = 'id, tutor_id, student_id, subject, starts_at, duration_minutes, status, updated_at'
export const CONTACT_REQUEST_COLUMNS = 'id, student_id, tutor_id, message, status, created_at, updated_at'
