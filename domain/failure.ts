/**
 * A failure of an outside service (the model, speech to text, Telegram's files, an MCP server) with a
 * kind that picks what a person or the model is told, and the HTTP status behind it when there was one.
 */
export class KindedError<Kind extends string> extends Error {
  readonly kind: Kind
  readonly status: number | undefined
  constructor(kind: Kind, message: string, options?: { cause?: unknown; status?: number | undefined }) {
    super(message, { cause: options?.cause })
    this.kind = kind
    this.status = options?.status
  }
}
