import type { ModelError } from '../agents/model.ts'

/** One plain sentence for the person in the chat. */
export function describeModelError(err: ModelError): string {
  switch (err.kind) {
    case 'timeout':
      return 'The model took too long to answer. Please try again in a minute.'
    case 'rate_limited':
      return 'The model provider is limiting requests right now. Please try again in a minute.'
    case 'bad_output':
      return 'The model sent an answer I could not read. Please try again.'
    case 'rejected':
      return 'The model provider refused the request. An admin should check the model name and API key.'
    case 'unavailable':
      return 'The model is not answering right now. Please try again in a minute.'
  }
}
