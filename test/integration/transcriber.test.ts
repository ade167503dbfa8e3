import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Transcriber, TranscriptionError } from '../../agents/transcriber.ts'
import { OpenAIEmulator, spokenAudio } from '../support/openai-emulator.ts'

let openai: OpenAIEmulator
let transcriber: Transcriber
beforeAll(async () => {
  openai = await new OpenAIEmulator().start()
  transcriber = new Transcriber({ apiKey: 'sk-transcriber-test', baseUrl: openai.baseUrl, model: 'whisper-1', timeoutMs: 5000, maxRetries: 0 })
})
afterAll(() => openai.close())

const kindOf = async (audio: Buffer) => {
  const err = await transcriber.transcribe(audio, 'voice.ogg').then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(TranscriptionError)
  return (err as TranscriptionError).kind
}

describe('speech to text through the openai client', () => {
  test('sends the file and the model as multipart, and reads the text and the seconds heard', async () => {
    expect(await transcriber.transcribe(spokenAudio('  turn the lights off  '), 'voice.ogg')).toEqual({ text: 'turn the lights off', audioSeconds: 2, inputTokens: undefined, outputTokens: undefined })
    expect(openai.transcriptions.at(-1)).toMatchObject({ model: 'whisper-1', fileName: 'voice.ogg', authorization: 'Bearer sk-transcriber-test' })
  })

  test('each failure has its kind: refused audio, no such endpoint, an endpoint failing now', async () => {
    expect(await kindOf(Buffer.from('not audio at all'))).toBe('unreadable')
    for (const [status, kind] of [[404, 'not_set_up'], [401, 'not_set_up'], [503, 'unavailable'], [429, 'unavailable']] as const) {
      openai.transcription = { status }
      expect(await kindOf(spokenAudio('x'))).toBe(kind)
    }
    openai.transcription = {}
  })
})
