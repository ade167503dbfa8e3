import type { Api } from 'grammy'
import { KindedError } from '../domain/failure.ts'

/** Why a file was not downloaded: bigger than the cap (or Telegram's 20 MB), or Telegram could not give it. */
export class DownloadError extends KindedError<'too_big' | 'unavailable'> {
  override name = 'DownloadError'
}

/** Telegram lets bots download files up to this size with getFile. */
export const TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024
const DOWNLOAD_TIMEOUT_MS = 60_000

/**
 * Downloads a file a person sent: getFile, then `{apiRoot}/file/bot<token>/<file_path>`, read into
 * memory and stopped as soon as it passes `maxBytes`. The URL holds the bot token: it is never logged
 * or shown (errors name only the step). The grammY files plugin writes to disk and has no cap, so
 * this small function does the same two steps with one.
 */
export async function downloadFile(api: Api, fileId: string, maxBytes: number): Promise<Buffer> {
  let path: string | undefined
  try {
    path = (await api.getFile(fileId)).file_path
  } catch (err) {
    if (String(err).includes('file is too big')) throw new DownloadError('too_big', 'Telegram refused the download: file is too big', { cause: err })
    throw new DownloadError('unavailable', 'getFile failed', { cause: err })
  }
  if (!path) throw new DownloadError('unavailable', 'getFile gave no file_path')
  const root = api.options?.apiRoot ?? 'https://api.telegram.org'
  let res: Response
  try {
    res = await fetch(`${root}/file/bot${api.token}/${path}`, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) })
  } catch (err) {
    throw new DownloadError('unavailable', `file download failed: ${(err as Error).name}`)
  }
  if (!res.ok || !res.body) throw new DownloadError('unavailable', `file download answered ${res.status}`)
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (declared > maxBytes) {
    await res.body.cancel()
    throw new DownloadError('too_big', `file has ${declared} bytes, more than ${maxBytes}`)
  }
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength
      if (size > maxBytes) throw new DownloadError('too_big', `file passed ${maxBytes} bytes while downloading`)
      chunks.push(Buffer.from(chunk))
    }
  } catch (err) {
    if (err instanceof DownloadError) throw err
    throw new DownloadError('unavailable', `file download broke off: ${(err as Error).name}`)
  }
  return Buffer.concat(chunks)
}
