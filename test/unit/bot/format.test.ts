import { describe, expect, test } from 'vitest'
import { bold, code, escapeHtml, html, htmlToPlain, italic, link, pre, quote, raw, visibleLength } from '../../../bot/format/html.ts'
import { renderMarkdown, renderPlainAsHtml } from '../../../bot/format/markdown.ts'
import { firstPart, splitHtml } from '../../../bot/format/split.ts'
import { parseTelegramHtml } from '../../support/telegram-html.ts'
import type { TelegramEntity } from '../../support/telegram-html.ts'

/** What Telegram shows for `text`, failing the test when Telegram would refuse it or drop part of it. */
function shown(text: string): { text: string; entities: TelegramEntity[] } {
  const parsed = parseTelegramHtml(text, { strict: true })
  if ('error' in parsed) throw new Error(`${parsed.error}\nin: ${text}`)
  return parsed
}

const types = (text: string) => shown(text).entities.map((e) => e.type)

/** A model's reply with every construct the renderer knows, some of them nested. */
const SAMPLE = `# Release notes for *v2*

The build is **green** again, and _most_ of the ~~flaky~~ tests pass. A < B & C, "quoted" &amp; AT&T.
Soft break here, hard break next  
and the \`config.ts\` file has \`a < b && c\`. See [the docs](https://example.com/docs?a=1&b=2 "Docs") or <https://example.org>.

## Steps

1. Install with \`npm ci\`
2. Run the tests:
   - unit **fast**
   - e2e *slow*
     - nested deeper
3. Deploy 🚀

- [x] done task
- [ ] open task with [a link](https://example.com/task)

> Quoted advice with **bold** and \`code\`.
> > A nested quote, flattened.

\`\`\`ts
function add(a: number, b: number): number {
  return a < b ? a + b : b + a // <tag> & "quotes"
}
\`\`\`

| Name | Count | Note |
|:-----|------:|:----:|
| apples | 3 | **fresh** |
| kiwis | 12 | \`ripe\` |

---

![diagram of the flow](https://example.com/flow.png) and an inline <span>html</span> tag.

<div class="x">block html</div>

    indented code block & more

### Why it broke

The cache key ignored the **lock file**, so a stale \`node_modules\` was restored on *every* run; the fix hashes
\`package-lock.json\` into the key. Numbers before → after: 14 min → 6 min (a 57% cut), with p99 < 9 min.
Nothing else changed: the same 412 tests ran, on the same runners, with the same Node 24 image, and
the slow e2e suite still runs last so a failure in the fast suites stops the job early.

* Edge cases: paths with \`<\` or \`&\`, names like \`a_b_c\`, and literal asterisks \\*like this\\*.
* A line with trailing spaces and an [inline link with **bold** inside](https://example.com/a_(b)).

That's all — thanks! 😀`

describe('html helpers', () => {
  test('escapeHtml escapes exactly the characters Telegram decodes: & < > and "', () => {
    expect(escapeHtml(`a < b & c > "d" 'e'`)).toBe(`a &lt; b &amp; c &gt; &quot;d&quot; 'e'`)
    expect(shown(escapeHtml(`a < b & c > "d" 'e'`)).text).toBe(`a < b & c > "d" 'e'`)
  })

  test('the html template escapes values and keeps Html values as they are', () => {
    const name = '<script>&'
    const out = html`<b>${name}</b> ${bold('x')} ${[italic('y'), ' & ', 3]}`
    expect(out.html).toBe('<b>&lt;script&gt;&amp;</b> <b>x</b> <i>y</i> &amp; 3')
    expect(shown(out.html).text).toBe('<script>& x y & 3')
    expect(String(raw('<i>r</i>'))).toBe('<i>r</i>')
  })

  test('code and pre take text only and name a language only when it is a plain name', () => {
    expect(code('<b>').html).toBe('<code>&lt;b&gt;</code>')
    expect(pre('x < 1', 'ts').html).toBe('<pre><code class="language-ts">x &lt; 1</code></pre>')
    expect(pre('x', 'c++').html).toContain('language-c++')
    expect(pre('x', 'a"b').html).toBe('<pre>x</pre>')
    expect(pre('x').html).toBe('<pre>x</pre>')
    expect(shown(pre('x', 'ts').html).entities).toEqual([{ type: 'pre', offset: 0, length: 1, language: 'ts' }])
  })

  test('link links http, https and tg URLs and shows anything else as text', () => {
    expect(link('docs', 'https://e.com/?a=1&b=2').html).toBe('<a href="https://e.com/?a=1&amp;b=2">docs</a>')
    expect(shown(link('docs', 'https://e.com/?a=1&b=2').html).entities[0]?.url).toBe('https://e.com/?a=1&b=2')
    expect(link('x', 'javascript:alert(1)').html).toBe('x')
    expect(link('<x>', 'file:///etc').html).toBe('&lt;x&gt;')
    expect(link('write me', 'mailto:a@b.co').html).toBe('write me (a@b.co)')
    expect(link('a@b.co', 'mailto:a@b.co').html).toBe('a@b.co')
  })

  test('quote flattens a quote inside it, which Telegram would drop', () => {
    const out = quote(html`a ${quote('b')}`).html
    expect(out.match(/<blockquote>/g)).toHaveLength(1)
    expect(shown(out)).toEqual({ text: 'a b', entities: [{ type: 'blockquote', offset: 0, length: 3 }] })
  })

  test('htmlToPlain shows what Telegram shows, entities decoded once', () => {
    const cases = ['<b>a &lt; b</b> &amp;lt; &quot;q&quot; &#128512; &#x41;', 'x &nbsp; &copy y & z', '<a href="https://e.com/?a&amp;b">l</a>']
    for (const c of cases) expect(htmlToPlain(c)).toBe(shown(c).text)
    expect(htmlToPlain('&amp;lt;')).toBe('&lt;')
  })

  test('visibleLength counts UTF-16 units of the shown text', () => {
    expect(visibleLength('<b>a&amp;b</b>')).toBe(3)
    expect(visibleLength('😀&#128512;')).toBe(4)
  })
})

describe('renderMarkdown', () => {
  // [construct, Markdown, Telegram HTML, the text Telegram shows]
  const cases: Array<[string, string, string, string]> = [
    ['bold', '**b** and __b__', '<b>b</b> and <b>b</b>', 'b and b'],
    ['italic', '*i* and _i_', '<i>i</i> and <i>i</i>', 'i and i'],
    ['strikethrough', '~~gone~~', '<s>gone</s>', 'gone'],
    ['nested emphasis', '**bold _both_**', '<b>bold <i>both</i></b>', 'bold both'],
    ['inline code keeps its text literally', '`a<b && &amp;`', '<code>a&lt;b &amp;&amp; &amp;amp;</code>', 'a<b && &amp;'],
    ['fenced code with a language', '```ts\nconst x = 1 < 2\n```', '<pre><code class="language-ts">const x = 1 &lt; 2</code></pre>', 'const x = 1 < 2'],
    ['fenced code: the first word of the info string', '```python title="x"\npass\n```', '<pre><code class="language-python">pass</code></pre>', 'pass'],
    ['fenced code with an odd language', '```{.weird}\nx\n```', '<pre>x</pre>', 'x'],
    ['indented code', '    a & b', '<pre>a &amp; b</pre>', 'a & b'],
    ['link', '[docs](https://e.com/d?a=1&amp;b=2)', '<a href="https://e.com/d?a=1&amp;b=2">docs</a>', 'docs'],
    ['link with an unsafe scheme', '[x](javascript:alert(1))', 'x', 'x'],
    ['relative link', '[x](/path)', 'x', 'x'],
    ['autolink', '<https://e.com>', '<a href="https://e.com">https://e.com</a>', 'https://e.com'],
    ['bare www link', 'see www.e.com', 'see <a href="http://www.e.com">www.e.com</a>', 'see www.e.com'],
    ['e-mail address', 'mail a@e.com', 'mail a@e.com', 'mail a@e.com'],
    ['code inside a link keeps the link', '[`run`](https://e.com)', '<a href="https://e.com">run</a>', 'run'],
    ['image', '![a chart](https://e.com/c.png)', '<a href="https://e.com/c.png">a chart</a>', 'a chart'],
    ['image without a description', '![](https://e.com/c.png)', '<a href="https://e.com/c.png">image</a>', 'image'],
    ['image inside a link', '[![logo](https://e.com/l.png)](https://e.com)', '<a href="https://e.com">logo</a>', 'logo'],
    ['block quote', '> quoted **text**', '<blockquote>quoted <b>text</b></blockquote>', 'quoted text'],
    ['nested block quote is flattened', '> outer\n> > inner', '<blockquote>outer\n\ninner</blockquote>', 'outer\n\ninner'],
    ['heading', '# Title *x*\ntext', '<b>Title <i>x</i></b>\n\ntext', 'Title x\n\ntext'],
    ['bulleted list', '- a\n- b', '• a\n• b', '• a\n• b'],
    ['numbered list from its start', '3. c\n4. d', '3. c\n4. d', '3. c\n4. d'],
    ['nested lists', '- a\n  1. b\n     - c', '• a\n  1. b\n    • c', '• a\n  1. b\n    • c'],
    ['task list', '- [x] done\n- [ ] todo', '☑ done\n☐ todo', '☑ done\n☐ todo'],
    ['horizontal rule', 'a\n\n---\n\nb', 'a\n\n———\n\nb', 'a\n\n———\n\nb'],
    ['inline raw HTML is shown as typed', 'a <b>x</b> <br/>', 'a &lt;b&gt;x&lt;/b&gt; &lt;br/&gt;', 'a <b>x</b> <br/>'],
    ['block raw HTML is shown as typed', '<div>\nhi\n</div>', '&lt;div&gt;\nhi\n&lt;/div&gt;', '<div>\nhi\n</div>'],
    ['hard line break', 'a  \nb\\\nc', 'a\nb\nc', 'a\nb\nc'],
    ['soft line break', 'a\nb', 'a\nb', 'a\nb'],
    ['paragraphs: one blank line', 'a\n\n\n\nb', 'a\n\nb', 'a\n\nb'],
    ['text that is not Markdown', 'a < b & c', 'a &lt; b &amp; c', 'a < b & c'],
    ['character references decoded once', 'AT&T &amp; &copy; &bogus; &#60; &amp;lt; \\&lt;', 'AT&amp;T &amp; © &amp;bogus; &lt; &amp;lt; &amp;lt;', 'AT&T & © &bogus; < &lt; &lt;'],
    ['trailing whitespace trimmed', 'a   \n\n\n', 'a', 'a'],
  ]
  test.each(cases)('%s', (_, md, expected, text) => {
    const out = renderMarkdown(md)
    expect(out).toBe(expected)
    expect(shown(out).text).toBe(text)
    expect(htmlToPlain(out)).toBe(text)
  })

  test('each construct becomes the entity Telegram shows', () => {
    expect(types(renderMarkdown('**b** *i* ~~s~~ `c` [l](https://e.com)'))).toEqual(['bold', 'italic', 'strikethrough', 'code', 'text_link'])
    expect(types(renderMarkdown('> q'))).toEqual(['blockquote'])
    expect(shown(renderMarkdown('```ts\nx\n```')).entities).toEqual([{ type: 'pre', offset: 0, length: 1, language: 'ts' }])
    expect(types(renderMarkdown('| a |\n|---|\n| b |'))).toEqual(['pre'])
  })

  test('a table is monospace text with its columns padded and aligned', () => {
    const out = renderMarkdown('| Name | Qty |\n|:-----|----:|\n| apple | 3 |\n| kiwi `k` | **12** |')
    const lines = shown(out).text.split('\n')
    expect(lines).toEqual(['Name   | Qty', '-------+----', 'apple  |   3', 'kiwi k |  12'])
    expect(out).toMatch(/^<pre>[^<]*<\/pre>$/) // no formatting inside the code block
  })

  test('nothing but text ever appears inside code', () => {
    const out = renderMarkdown(SAMPLE)
    for (const body of out.match(/<(code|pre)\b[^>]*>[\s\S]*?<\/\1>/g) ?? []) {
      expect(body.replace(/^<pre><code[^>]*>|^<(pre|code)>|<\/code><\/pre>$|<\/(pre|code)>$/g, '')).not.toContain('<')
    }
  })

  test('the rich sample renders to HTML Telegram accepts whole, with its text intact', () => {
    const out = renderMarkdown(SAMPLE)
    const { text, entities } = shown(out)
    for (const phrase of ['A < B & C, "quoted" & AT&T.', '*like this*', 'a < b && c', '<tag> & "quotes"', '<span>html</span>', '<div class="x">block html</div>', '😀']) {
      expect(text).toContain(phrase)
    }
    expect(new Set(entities.map((e) => e.type))).toEqual(new Set(['bold', 'italic', 'strikethrough', 'code', 'text_link', 'blockquote', 'pre']))
    expect(out).toBe(out.trim())
  })

  test('every prefix of a streamed reply renders to HTML Telegram accepts', () => {
    const chars = [...SAMPLE]
    expect(SAMPLE.length).toBeGreaterThan(1400)
    for (let n = 1; n <= chars.length; n++) {
      const out = renderMarkdown(chars.slice(0, n).join(''))
      if (out === '') continue
      const parsed = parseTelegramHtml(out, { strict: true })
      expect('error' in parsed ? `${parsed.error} at prefix ${n}: ${out}` : '').toBe('')
    }
  })

  test('half-written Markdown renders without throwing', () => {
    for (const md of ['```ts\nconst x = 1', '**bold', '[link](http://exa', '| a | b |\n|--', '> ', '- ', '1. ', '#', '![alt](', '`co', '<di', '&am']) {
      const out = renderMarkdown(md)
      if (out !== '') expect(shown(out).text.length).toBeGreaterThan(0)
    }
    expect(shown(renderMarkdown('```ts\nconst x = 1')).entities[0]).toMatchObject({ type: 'pre', language: 'ts' })
  })

  test('random Markdown-like input renders, and splits, to HTML Telegram accepts', () => {
    const pieces = ['*', '_', '~~', '`', '```', '[', '](', ')', '![', '<', '>', '&', '&amp;', '&lt;', '#', '- ', '1. ', '|', '\n', '\n\n', ' ', 'a', 'http://e.com', '\\', '😀', '> ', '    ', '- [ ] ', '---', '<b>', '</i>', '"', '\t', '\r\n']
    let seed = 7 // a fixed stream, so a failure can be replayed
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let n = 0; n < 3000; n++) {
      const md = Array.from({ length: 1 + Math.floor(random() * 40) }, () => pieces[Math.floor(random() * pieces.length)]).join('')
      const out = renderMarkdown(md)
      if (out === '') continue
      const whole = parseTelegramHtml(out, { strict: true })
      expect('error' in whole && !whole.error.endsWith('text must be non-empty') ? `${whole.error} for ${JSON.stringify(md)}` : '').toBe('')
      for (const part of splitHtml(out, 5)) expect(visibleLength(part) <= 5 && !('error' in parseTelegramHtml(part, { strict: true }))).toBe(true)
    }
  })

  test('renderPlainAsHtml only escapes', () => {
    const text = '**not bold** <b>a & b</b>'
    expect(shown(renderPlainAsHtml(text))).toEqual({ text, entities: [] })
  })
})

describe('splitHtml', () => {
  const whole = renderMarkdown(SAMPLE)
  const squash = (s: string) => s.replace(/\s+/g, '')

  test('keeps a short text whole', () => {
    expect(splitHtml('<b>hi</b>')).toEqual(['<b>hi</b>'])
  })

  test.each([40, 90, 200, 500, 4096])('parts fit %i visible characters, each accepted alone, and lose no text', (limit) => {
    const parts = splitHtml(whole, limit)
    if (limit >= visibleLength(whole)) expect(parts).toEqual([whole])
    else expect(parts.length).toBeGreaterThanOrEqual(Math.ceil(visibleLength(whole) / limit))
    for (const part of parts) {
      expect(visibleLength(part)).toBeLessThanOrEqual(limit)
      expect(shown(part).text.length).toBeGreaterThan(0)
    }
    expect(squash(parts.map(htmlToPlain).join(''))).toBe(squash(htmlToPlain(whole)))
  })

  test('a long code block is closed at each cut and reopened with its language, its indentation kept', () => {
    const lines = Array.from({ length: 60 }, (_, i) => `  line(${i}) // a < b`)
    const parts = splitHtml(renderMarkdown(`Intro.\n\n\`\`\`ts\n${lines.join('\n')}\n\`\`\``), 300)
    expect(parts.length).toBeGreaterThan(3)
    for (const part of parts.slice(1)) {
      expect(part).toMatch(/^<pre><code class="language-ts">/)
      expect(shown(part).entities).toEqual([expect.objectContaining({ type: 'pre', language: 'ts' })])
      expect(shown(part).text.split('\n').every((line) => line.startsWith('  line('))).toBe(true)
    }
    expect(parts.flatMap((p) => htmlToPlain(p).split('\n')).filter((l) => l.includes('line('))).toEqual(lines)
  })

  test('prefers paragraph breaks, so no paragraph is cut when they fit', () => {
    const paragraphs = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} with <b>bold</b> ${'word '.repeat(12).trim()}.`)
    const parts = splitHtml(paragraphs.join('\n\n'), 250)
    expect(parts.length).toBeGreaterThan(2)
    expect(parts.join('\n\n')).toBe(paragraphs.join('\n\n'))
  })

  test('a link or a quote cut in two is reopened with its attributes', () => {
    const out = `<a href="https://e.com/?a=1&amp;b=2">${'word '.repeat(40).trim()}</a> <blockquote>${'quote '.repeat(40).trim()}</blockquote>`
    const parts = splitHtml(out, 60)
    expect(parts.length).toBeGreaterThan(4)
    for (const part of parts) {
      const { text, entities } = shown(part)
      expect(entities.length).toBeGreaterThan(0)
      for (const e of entities) {
        if (e.type === 'text_link') expect(e.url).toBe('https://e.com/?a=1&b=2')
        else expect(e.type).toBe('blockquote')
      }
      const covered = (i: number) => entities.some((e) => e.offset <= i && i < e.offset + e.length)
      expect(text.split('').every((c, i) => c === ' ' || covered(i))).toBe(true) // every word is still linked or quoted
    }
  })

  test('falls back to line breaks, then spaces, then a hard cut, never inside an entity or a surrogate pair', () => {
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n')
    expect(splitHtml(lines, 30).every((p) => /^line \d+(\nline \d+)*$/.test(p))).toBe(true)
    expect(splitHtml('abc '.repeat(50).trim(), 22).every((p) => /^(abc ?)+$/.test(p) && !p.endsWith(' '))).toBe(true)
    const entities = '&amp;&lt;'.repeat(50)
    const cut = splitHtml(entities, 7)
    expect(cut.every((p) => /^(&amp;|&lt;)+$/.test(p) && visibleLength(p) <= 7)).toBe(true)
    expect(cut.join('')).toBe(entities)
    const emoji = `<i>${'😀'.repeat(30)}</i>`
    const parts = splitHtml(emoji, 11)
    for (const p of parts) expect(htmlToPlain(p)).toMatch(/^(😀)+$/u)
    expect(parts.map(htmlToPlain).join('')).toBe('😀'.repeat(30))
  })

  test('drops parts that would be only whitespace', () => {
    const parts = splitHtml(`a${' '.repeat(30)}\n\n${' '.repeat(30)}b`, 10)
    expect(parts).toEqual(['a', 'b'])
    const tabs = splitHtml(`${'a'.repeat(9)}\n\n<pre>${'\t'.repeat(30)}</pre>\n\n${'b'.repeat(9)}`, 10)
    expect(tabs.map(htmlToPlain)).toEqual(['a'.repeat(9), 'b'.repeat(9)]) // Telegram makes a tab a space, and trims it
  })

  test('firstPart is the whole text when it fits, else the first part and "…" within the limit', () => {
    expect(firstPart('<b>short</b>', 100)).toBe('<b>short</b>')
    const first = firstPart(whole, 300)
    expect(visibleLength(first)).toBeLessThanOrEqual(300)
    expect(first.endsWith('…')).toBe(true)
    expect(shown(first).text.startsWith(htmlToPlain(splitHtml(whole, 299)[0]!))).toBe(true)
  })

  test('scales linearly: twice the text costs about twice the time', () => {
    const block = renderMarkdown(SAMPLE)
    const time = (copies: number) => {
      const text = Array.from({ length: copies }, () => block).join('\n\n')
      const runs = Array.from({ length: 5 }, () => {
        const t0 = performance.now()
        splitHtml(text)
        return performance.now() - t0
      })
      return Math.min(...runs) // the least disturbed run
    }
    time(20) // warm up
    expect(time(160) / time(40)).toBeLessThan(10) // linear is 4, quadratic 16
  })
})
