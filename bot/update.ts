/** The update kinds Mechanic asks Telegram for. */
export const ALLOWED_UPDATES = ['message', 'edited_message', 'callback_query', 'my_chat_member'] as const

/** A Telegram update as it arrives: an object with a whole, non-negative `update_id` and one more field. */
export type IncomingUpdate = { update_id: number } & Record<string, unknown>

// Checked by hand rather than with zod: this runs on the ingest thread, which then loads no schema library.
const isUpdate = (body: unknown): body is IncomingUpdate => {
  const id = (body as { update_id?: unknown } | null)?.update_id
  return typeof body === 'object' && body !== null && !Array.isArray(body) && Number.isSafeInteger(id) && (id as number) >= 0
}

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
  if (!isUpdate(body)) return undefined
  const update = body
  const kind = updateKind(update)
  const inner = update[kind]
  const lane =
    chatOf(inner) ?? chatOf((inner as { message?: unknown } | undefined)?.message) ?? fromOf(inner) ?? 0
  return { updateId: update.update_id, lane, kind, payload: update }
}
