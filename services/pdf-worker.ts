// Runs in a worker thread: reads the text layer of one PDF (pdf.js through unpdf) and posts it back,
// so a large or crafted PDF never holds the service's event loop; the caller terminates it on timeout.
import { parentPort, workerData } from 'node:worker_threads'
import { extractText, getDocumentProxy } from 'unpdf'

/** The most pages read: a longer PDF's text would be cut anyway. */
const MAX_PAGES = 500

const bytes = workerData as Uint8Array
try {
  const pdf = await getDocumentProxy(bytes)
  if (pdf.numPages > MAX_PAGES) throw new Error(`the PDF has ${pdf.numPages} pages`)
  const { text } = await extractText(pdf, { mergePages: true })
  await pdf.loadingTask.destroy()
  parentPort?.postMessage({ text })
} catch (err) {
  parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) })
}
