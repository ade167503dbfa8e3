import { BaseChatModel } from '@langchain/core/language_models/chat_models'
import type { BaseMessage } from '@langchain/core/messages'
import type { ChatResult } from '@langchain/core/outputs'

/** An in-process chat model that answers with scripted messages in order (tool calls included). */
export class ScriptedChatModel extends BaseChatModel {
  readonly #script: BaseMessage[]
  readonly seen: BaseMessage[][] = []

  constructor(script: BaseMessage[]) {
    super({})
    this.#script = [...script]
  }

  _llmType(): string {
    return 'scripted'
  }

  // Tools are the script's business here: binding changes nothing.
  override bindTools(): this {
    return this
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    this.seen.push(messages)
    const next = this.#script.shift()
    if (!next) throw new Error('the script has no more answers')
    return { generations: [{ message: next, text: typeof next.content === 'string' ? next.content : '' }] }
  }
}
