import { Api } from 'grammy'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DownloadError, downloadFile } from '../../../bot/files.ts'
import { TelegramEmulator } from '../../support/telegram-emulator.ts'

let telegram: TelegramEmulator
let api: Api
beforeAll(async () => {
  telegram = await new TelegramEmulator({ token: '42:files-test-token-for-the-emulator' }).start()
  api = new Api(telegram.token, { apiRoot: telegram.apiRoot })
})
afterAll(() => telegram.close())

const failure = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(DownloadError)
  return err as DownloadError
}

describe('downloading a file a person sent', () => {
  test('getFile, then the bytes from the file URL', async () => {
    const bytes = Buffer.from('hello file')
    const file = telegram.addFile(bytes)
    expect(await downloadFile(api, file.file_id, 1000)).toEqual(bytes)
    expect(telegram.downloads).toHaveLength(1)
  })

  test('a file larger than the cap is stopped even when its declared size lied', async () => {
    const file = telegram.addFile(Buffer.alloc(5000, 1), { size: 100 })
    expect((await failure(downloadFile(api, file.file_id, 1000))).kind).toBe('too_big')
  })

  test("Telegram's 20 MB refusal is too_big; an unknown file is unavailable; the token never shows in the error", async () => {
    const huge = telegram.addFile(Buffer.from('x'), { size: 21 * 1024 * 1024 })
    expect((await failure(downloadFile(api, huge.file_id, 30 * 1024 * 1024))).kind).toBe('too_big')
    const missing = await failure(downloadFile(api, 'no-such-file', 1000))
    expect(missing.kind).toBe('unavailable')
    expect(missing.message).not.toContain(telegram.token)
  })
})
