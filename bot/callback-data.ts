/** Telegram's limit on a button's callback_data, in bytes. */
export const CALLBACK_DATA_LIMIT = 64

/** A button's data would not fit Telegram's 64 bytes: a bug in the family's codec, never the person's. */
export class CallbackDataTooLongError extends Error {
  override name = 'CallbackDataTooLongError'
}

/**
 * The buttons of one family (approvals, agent switching, memory pages, wizard steps): what a button
 * carries, encoded as `family:field:field` within 64 bytes, and decoded with validation. A press
 * whose data does not decode (stale, malformed, forged) gets `undefined`, never an exception.
 */
export interface ButtonCodec<T> {
  readonly family: string
  encode(value: T): string
  decode(data: string | undefined): T | undefined
  /** Whether the data belongs to this family (decodable or not): its handler answers it. */
  owns(data: string | undefined): boolean
}

export function buttonCodec<T>(family: string, fields: { encode: (value: T) => ReadonlyArray<string | number>; decode: (fields: string[]) => T | undefined }): ButtonCodec<T> {
  const prefix = `${family}:`
  return {
    family,
    encode(value) {
      const data = prefix + fields.encode(value).join(':')
      if (Buffer.byteLength(data, 'utf8') > CALLBACK_DATA_LIMIT) throw new CallbackDataTooLongError(`${family} button data is ${Buffer.byteLength(data, 'utf8')} bytes`)
      return data
    },
    decode(data) {
      if (data === undefined || !data.startsWith(prefix) || Buffer.byteLength(data, 'utf8') > CALLBACK_DATA_LIMIT) return undefined
      return fields.decode(data.slice(prefix.length).split(':'))
    },
    owns: (data) => data !== undefined && data.startsWith(prefix),
  }
}

/** A whole number from a button's field, within bounds; undefined otherwise. */
export function intField(text: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined || !/^\d{1,16}$/.test(text)) return undefined
  const n = Number(text)
  return n <= max ? n : undefined
}
