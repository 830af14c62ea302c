export const TAG_TYPES = ['Conversation', 'Message', 'Lesson', 'ContactRequest'] as const
export type TagType = (typeof TAG_TYPES)[number]
/** Lists provide one `LIST` tag, not a tag per item: per-item tags make every cache patch slow. */
export const LIST = 'LIST'
