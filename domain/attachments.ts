/**
 * What a person sent besides text, ready for a turn: a photo's bytes, or a document's extracted text
 * (with a note of what was cut). Voice never gets here: it becomes the message's text.
 */
export type Attachment =
  | { kind: 'image'; mime: string; data: Buffer; name?: string | undefined }
  | { kind: 'document'; mime: string; name: string; text: string; note?: string | undefined }
