import { describe, expect, test } from 'vitest'
import { parseTelegramHtml } from '../../support/telegram-html.ts'

// Expected texts, entities and error messages are TDLib's own (td test/message_entities.cpp,
// parse_html) and the Bot API's wording (telegram-bot-api Client.cpp); see the emulator's header.
const PREFIX = "Bad Request: can't parse entities: "
const ok = (text: string, options?: { strict?: boolean }) => {
  const parsed = parseTelegramHtml(text, options)
  if ('error' in parsed) throw new Error(parsed.error)
  return parsed
}
const error = (text: string, options?: { strict?: boolean }) => {
  const parsed = parseTelegramHtml(text, options)
  return 'error' in parsed ? parsed.error : undefined
}

describe('parseTelegramHtml accepts what Telegram accepts', () => {
  test('every supported tag and alias, with tag names in any case', () => {
    const tags: Array<[string, string]> = [
      ['<b>x</b>', 'bold'], ['<STRONG>x</strong>', 'bold'], ['<i>x</i>', 'italic'], ['<Em>x</EM>', 'italic'],
      ['<u>x</u>', 'underline'], ['<ins>x</ins>', 'underline'], ['<s>x</s>', 'strikethrough'], ['<strike>x</strike>', 'strikethrough'],
      ['<del>x</del>', 'strikethrough'], ['<tg-spoiler>x</tg-spoiler>', 'spoiler'], ['<span class="tg-spoiler">x</span>', 'spoiler'],
      ['<code>x</code>', 'code'], ['<pre>x</pre>', 'pre'], ['<blockquote>x</blockquote>', 'blockquote'],
      ['<blockquote expandable>x</blockquote>', 'expandable_blockquote'], ['<a href="https://e.com">x</a>', 'text_link'],
      ['<tg-emoji emoji-id="5368324170671202286">x</tg-emoji>', 'custom_emoji'],
    ]
    for (const [text, type] of tags) expect(ok(text)).toEqual({ text: 'x', entities: [expect.objectContaining({ type, offset: 0, length: 1 })] })
  })

  test('offsets and lengths are in UTF-16 units', () => {
    expect(ok('🏟 🏟<i>🏟 &lt🏟</i>')).toEqual({ text: '🏟 🏟🏟 <🏟', entities: [{ type: 'italic', offset: 5, length: 6 }] })
    expect(ok('➡️ ➡️<i>➡️ ➡️</i><b>➡️ ➡️</b>').entities).toEqual([
      { type: 'italic', offset: 5, length: 5 },
      { type: 'bold', offset: 10, length: 5 },
    ])
    expect(ok('a<b>&#x1F600;</b>').entities).toEqual([{ type: 'bold', offset: 1, length: 2 }])
  })

  test('only &lt; &gt; &amp; &quot; and numeric references are entities; anything else after & stays text', () => {
    expect(ok('&ge;&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;').text).toBe('&ge;<>&"&laquo;&raquo;&#12345678;')
    expect(ok('&nbsp; & a&b &amp &lt &#65 &#x41; &#X41;').text).toBe('&nbsp; & a&b & < A A &#X41;')
    expect(ok('&Or; &AMP;').text).toBe('&Or; &AMP;')
  })

  test('a code block takes its language from <pre><code class="language-…">', () => {
    expect(ok('<pre><code class="language-fift">x</code></pre>').entities).toEqual([{ type: 'pre', offset: 0, length: 1, language: 'fift' }])
    expect(ok('<code class="language-fift"><pre>x</pre></code>').entities).toEqual([{ type: 'pre', offset: 0, length: 1, language: 'fift' }])
    expect(ok('<code class="language-ts">x</code>').entities).toEqual([{ type: 'code', offset: 0, length: 1 }])
  })

  test('attributes: quoted or not, entities decoded in quotes, unknown ones ignored', () => {
    expect(ok("<a   href=  'telegram.org?&lt;'   >x</a>").entities[0]!.url).toBe('http://telegram.org/?<')
    expect(ok('<a href=telegram.org>x</a>').entities[0]!.url).toBe('http://telegram.org/')
    expect(ok('<b aba   =   caba>x</b>').entities).toEqual([{ type: 'bold', offset: 0, length: 1 }])
    expect(ok('<blockquote   cite="" askdlbas nasjdbaj nj12b3>a</blockquote>').entities[0]!.type).toBe('blockquote')
    expect(ok('<i>a</>').entities).toEqual([{ type: 'italic', offset: 0, length: 1 }]) // </> closes the innermost tag
  })

  test('links: a link without href links its text; one Telegram cannot check stays plain text', () => {
    expect(ok('<a>https://telegram.org/asdsa?asdasdwe#12e3we</a>').entities[0]!.url).toBe('https://telegram.org/asdsa?asdasdwe#12e3we')
    expect(ok('<a>x</a>').entities).toEqual([])
    expect(ok('<a href="http://localhost:3000">x</a>').entities).toEqual([])
    expect(ok('<a href="ftp://e.com">x</a>').entities).toEqual([])
    expect(ok('<a href="tg://resolve?domain=x">x</a>').entities[0]!.url).toBe('tg://resolve?domain=x')
    expect(ok('<a href="tg://user?id=42">x</a>').entities).toEqual([{ type: 'text_mention', offset: 0, length: 1, user_id: 42 }])
  })

  test('the text is trimmed of spaces and newlines, and "\\r" dropped, as Telegram does', () => {
    expect(ok('\n  <b> a </b>  \n')).toEqual({ text: ' a', entities: [{ type: 'bold', offset: 0, length: 2 }] })
    expect(ok('  a\r\nb\tc ')).toEqual({ text: 'a\nb c', entities: [] })
  })
})

describe('parseTelegramHtml refuses what Telegram refuses, in its words', () => {
  const cases: Array<[string, string]> = [
    ['🏟 🏟&lt;<abacaba', 'Unclosed start tag at byte offset 13'],
    ['🏟 🏟&lt;<abac aba>', 'Unsupported start tag "abac" at byte offset 13'],
    ['a < b', 'Unsupported start tag "" at byte offset 2'],
    ['<br/>', 'Unsupported start tag "br/" at byte offset 0'],
    ['<foo>x</foo>', 'Unsupported start tag "foo" at byte offset 0'],
    ['🏟 🏟&lt;<i   =aba>', 'Empty attribute name in the tag "i" at byte offset 13'],
    ['🏟 🏟&lt;<i    aba>', 'Can\'t find end tag corresponding to start tag "i"'],
    ['<b>bold', 'Can\'t find end tag corresponding to start tag "b"'],
    ['🏟 🏟&lt;<i    aba  =  ', 'Unclosed start tag "i" at byte offset 13'],
    ['🏟 🏟&lt;<i    aba  =  190azAz-.,', 'Unexpected end of name token at byte offset 27'],
    ['🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', 'Unclosed start tag at byte offset 13'],
    ['🏟 🏟&lt;</', 'Unexpected end tag at byte offset 13'],
    ['🏟 🏟&lt;<b></b></', 'Unexpected end tag at byte offset 20'],
    ['🏟 🏟&lt;<i>a</i   ', 'Unclosed end tag at byte offset 17'],
    ['🏟 🏟&lt;<i>a</em   >', 'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"'],
    ['<i><b>x</i></b>', 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'],
    ['<span>x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'],
    ['<tg-emoji emoji-id="abc">x</tg-emoji>', 'Invalid custom emoji identifier specified'],
    ['&#57311;', 'Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units'],
    ['&#xDFDF', 'Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units'],
  ]
  test.each(cases)('%s', (text, message) => {
    expect(error(text)).toBe(PREFIX + message)
  })

  test('an empty text, or one Telegram trims to nothing', () => {
    expect(error('')).toBe('Bad Request: message text is empty')
    expect(error(' \n <b> </b> ')).toBe('Bad Request: text must be non-empty')
  })
})

describe('parseTelegramHtml keeps what Telegram keeps of markup it repairs', () => {
  test('a block quote inside a block quote: the inner one is dropped', () => {
    expect(ok('<blockquote>a<blockquote>b</blockquote></blockquote>')).toEqual({ text: 'ab', entities: [{ type: 'blockquote', offset: 0, length: 2 }] })
  })

  test('formatting inside code is dropped', () => {
    expect(ok('<code><i><b> x</b></i></code>').entities).toEqual([{ type: 'code', offset: 0, length: 2 }])
  })

  test('code inside a link keeps the code and drops the link', () => {
    expect(ok('<a href="https://e.com"><code>c</code></a>').entities).toEqual([{ type: 'code', offset: 0, length: 1 }])
  })

  test('bold around code is split around it; adjacent bold is merged', () => {
    expect(ok('<b>a <code>c</code> b</b>').entities).toEqual([
      { type: 'bold', offset: 0, length: 2 },
      { type: 'code', offset: 2, length: 1 },
      { type: 'bold', offset: 3, length: 2 },
    ])
    expect(ok('<b>a</b><b>b</b>').entities).toEqual([{ type: 'bold', offset: 0, length: 2 }])
  })

  test('strict refuses the repairs that lose formatting and allows the harmless ones', () => {
    expect(error('<blockquote>a<blockquote>b</blockquote></blockquote>', { strict: true })).toMatch(/^strict: <blockquote> inside <blockquote> at byte offset 13/)
    expect(error('<code><b>x</b></code>', { strict: true })).toMatch(/^strict: <b> inside <code>/)
    expect(error('<a href="https://e.com"><code>c</code></a>', { strict: true })).toMatch(/^strict: <code> inside <a>/)
    expect(error('<b>a <code>c</code> b</b> <pre><code class="language-ts">x</code></pre>', { strict: true })).toBeUndefined()
    expect(error('<b>x</b></b>', { strict: true })).toBe(`${PREFIX}Unexpected end tag at byte offset 8`) // Telegram's own errors come first
  })
})
