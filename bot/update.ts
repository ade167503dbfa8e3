import { z } from 'zod'

/** The update kinds Mechanic asks Telegram for. */
export const ALLOWED_UPDATES = ['message', 'edited_message', 'callback_query', 'my_chat_member'] as const

const updateSchema = z.looseObject({ update_id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) })

export type IncomingUpdate = z.infer<typeof updateSchema>

/** A parsed update with what the inbox needs to order it. */
export interface RoutedUpdate {
  updateId: number
  lane: number
  kind: string
  payload: IncomingUpdate
}

const chatOf = (v: unknown): number | undefined => {
  const id = (v as { chat?: { id?: unknown } } | undefined)?.chat?.id
  return typeof id === 'number' ? id : undefined
}
const fromOf = (v: unknown): number | undefined => {
  const id = (v as { from?: { id?: unknown } } | undefined)?.from?.id
  return typeof id === 'number' ? id : undefined
}

/** The update's kind: its one field besides update_id ('message', 'callback_query', ...). */
export function updateKind(update: object): string {
  return Object.keys(update).find((k) => k !== 'update_id') ?? 'unknown'
}

/**
 * Validates an update body and finds its lane: the chat it belongs to, else its sender, else 0.
 * Returns undefined for a body that is not a Telegram update.
 */
export function routeUpdate(body: unknown): RoutedUpdate | undefined {
  const parsed = updateSchema.safeParse(body)
  if (!parsed.success) return undefined
  const update = parsed.data
  const kind = updateKind(update)
  const inner = update[kind]
  const lane =
    chatOf(inner) ?? chatOf((inner as { message?: unknown } | undefined)?.message) ?? fromOf(inner) ?? 0
  return { updateId: update.update_id, lane, kind, payload: update }
}
