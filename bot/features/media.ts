import { BudgetExceededError } from '../../agents/model.ts'
import { describeModelError } from '../model-errors.ts'
import { Composer } from 'grammy'
import type { Message, PhotoSize } from 'grammy/types'
import { TranscriptionError } from '../../agents/transcriber.ts'
import type { Attachment } from '../../domain/attachments.ts'
import type { DocumentRefusal, MediaKind } from '../../services/media.ts'
import { textForBot } from '../addressed.ts'
import type { Context } from '../context.ts'
import { DownloadError, TELEGRAM_DOWNLOAD_LIMIT, downloadFile } from '../files.ts'
import { html, italic } from '../format/html.ts'
import { converse } from './chat.ts'

/** Caps on what is downloaded, in bytes (checked against the update's file_size first). */
export interface MediaLimits {
  voiceMaxBytes: number
  photoMaxBytes: number
  documentMaxBytes: number
}

/** Telegram's photos are at most 2560 px on a side; a bigger size is never picked. */
const PHOTO_MAX_PIXELS = 2560 * 2560
/** How much of a transcript the person sees echoed back before the answer. */
const ECHO_CHARS = 300

const megabytes = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB`

/** A download refused or failed, in one sentence. */
class Refusal extends Error {}

const tooBig = (what: string, size: number | undefined, cap: number) =>
  new Refusal(`That ${what} is ${size ? megabytes(size) : 'too big'}; I can read ${what}s up to ${megabytes(Math.min(cap, TELEGRAM_DOWNLOAD_LIMIT))}.`)

/** Downloads a file after checking the size the update gives; failures become a Refusal. */
async function fetchFile(ctx: Context, file: { file_id: string; file_size?: number | undefined }, what: string, cap: number): Promise<Buffer> {
  const limit = Math.min(cap, TELEGRAM_DOWNLOAD_LIMIT)
  if (file.file_size !== undefined && file.file_size > limit) throw tooBig(what, file.file_size, cap)
  try {
    return await downloadFile(ctx.api, file.file_id, limit)
  } catch (err) {
    if (!(err instanceof DownloadError)) throw err
    ctx.log.warn({ err: { message: err.message, kind: err.kind } }, 'file download failed')
    if (err.kind === 'too_big') throw tooBig(what, file.file_size, cap)
    throw new Refusal(`I could not download that ${what} from Telegram. Please send it again.`)
  }
}

/** The largest size of a photo within the caps (sizes come smallest first). */
export function pickPhoto(sizes: readonly PhotoSize[], maxBytes: number): PhotoSize | undefined {
  return sizes.filter((s) => s.width * s.height <= PHOTO_MAX_PIXELS && (s.file_size ?? 0) <= maxBytes).at(-1)
}

const transcriptionSentence: Record<TranscriptionError['kind'], string> = {
  not_set_up: 'Voice messages are not set up on this bot (its speech-to-text service is not available). Please type your message instead.',
  unreadable: 'I could not make out that recording. Please try again, or type your message.',
  unavailable: 'The speech-to-text service is not answering right now. Please try again in a minute, or type your message.',
}

const documentSentence: Record<DocumentRefusal, (name: string) => string> = {
  unsupported: (name) => `I can read text, Markdown, source code, JSON, CSV and PDF files, and images; "${name}" is none of those.`,
  unreadable: (name) => `I could not read "${name}": it seems damaged, or not what its name says.`,
  no_text: (name) => `"${name}" has no text I can read (a scanned PDF?).`,
  too_large: (name) => `I stopped reading "${name}": it needs more memory or time than I allow a file. If it is a long PDF, try sending only the pages you need.`,
  sandbox: () => 'I cannot read PDF files right now: the protected reader they need is not working on this server. Please paste the text instead.',
}

/** The photo or file of one message as an attachment (an album brings several). */
async function attachmentOf(ctx: Context, message: Message, limits: MediaLimits): Promise<Attachment> {
  if (message.photo) {
    const size = pickPhoto(message.photo, limits.photoMaxBytes)
    if (!size) throw tooBig('photo', message.photo.at(-1)?.file_size, limits.photoMaxBytes)
    return { kind: 'image', mime: 'image/jpeg', data: await fetchFile(ctx, size, 'photo', limits.photoMaxBytes) }
  }
  const doc = message.document
  if (!doc) throw new Refusal('I can only take photos and files from an album.')
  const name = (doc.file_name ?? 'file').slice(0, 200)
  const mime = doc.mime_type ?? 'application/octet-stream'
  const bytes = await fetchFile(ctx, doc, 'file', limits.documentMaxBytes)
  const read = await ctx.services.media.readDocument(bytes, { name, mime })
  if ('refused' in read) {
    if (read.detail) ctx.log.warn({ refused: read.refused, detail: read.detail, bytes: bytes.length }, 'document not read')
    throw new Refusal(documentSentence[read.refused](name))
  }
  return read.attachment
}

/** Runs `work`; a Refusal is told to the person in its one sentence and ends the update. */
async function orRefuse(ctx: Context, work: () => Promise<void>): Promise<void> {
  try {
    await work()
  } catch (err) {
    if (!(err instanceof Refusal)) throw err
    await ctx.reply(err.message, { reply_parameters: { message_id: ctx.msg!.message_id, allow_sending_without_reply: true } })
  }
}

/**
 * Input beyond text. Voice notes, audio and video notes are transcribed and the transcript (echoed
 * back, quoted) is the person's message; photos and files (an album as one turn) go to the model
 * with the caption. In groups only what is addressed to the bot: a reply to it, or a caption that
 * mentions it. Sizes are checked before anything is downloaded.
 */
export function mediaFeature(limits: MediaLimits) {
  const composer = new Composer<Context>()

  composer.on(['message:voice', 'message:audio', 'message:video_note'], async (ctx, next) => {
    const caption = textForBot(ctx.message, ctx.me)
    if (caption === undefined) return next()
    const msg = ctx.message
    const kind: MediaKind = msg.voice ? 'voice' : msg.audio ? 'audio' : 'video_note'
    ctx.services.media.received(kind)
    const file = msg.voice ?? msg.audio ?? msg.video_note
    const what = kind === 'audio' ? 'audio file' : kind === 'voice' ? 'voice message' : 'video message'
    await orRefuse(ctx, async () => {
      const bytes = await fetchFile(ctx, file, what, limits.voiceMaxBytes)
      const name = msg.audio?.file_name ?? (kind === 'video_note' ? 'video-note.mp4' : 'voice.ogg')
      let transcript: string
      try {
        transcript = (await ctx.services.media.transcribe(bytes, name, { chatId: ctx.chat.id, userId: ctx.from.id })).text
      } catch (err) {
        if (err instanceof BudgetExceededError) throw new Refusal(describeModelError(err))
        if (!(err instanceof TranscriptionError)) throw err
        ctx.log.warn({ err: { message: err.message, kind: err.kind, status: err.status } }, 'transcription failed')
        throw new Refusal(transcriptionSentence[err.kind])
      }
      if (!transcript) throw new Refusal('I could not hear any words in that recording.')
      const echo = transcript.length > ECHO_CHARS ? `${transcript.slice(0, ECHO_CHARS - 1)}…` : transcript
      await ctx.reply(html`🎤 ${italic(`“${echo}”`)}`.html, { parse_mode: 'HTML', reply_parameters: { message_id: msg.message_id, allow_sending_without_reply: true } })
      await converse(ctx, { text: caption ? `${caption}\n\n${transcript}` : transcript })
    })
  })

  composer.on(['message:photo', 'message:document'], async (ctx, next) => {
    const msg = ctx.message
    const group = msg.media_group_id
    // An album: its first update to run answers for all of it; the others were taken into its turn.
    const messages = group ? (await ctx.services.media.album(ctx.chat.id, ctx.update.update_id, group)).map((p) => (p as { message: Message }).message) : [msg]
    const captions = messages.map((m) => textForBot(m, ctx.me))
    if (captions.every((c) => c === undefined)) return next()
    for (const m of messages) ctx.services.media.received(m.photo ? 'photo' : 'document')
    await orRefuse(ctx, async () => {
      const attachments: Attachment[] = []
      for (const m of messages) attachments.push(await attachmentOf(ctx, m, limits))
      await converse(ctx, { text: captions.filter(Boolean).join('\n\n'), attachments })
    })
  })

  return composer
}
