// The entry point (`npm start`, the image's CMD). It turns on Node's compile cache before anything
// else loads: the compiled code of our modules and of langchain, LangGraph and the rest is kept on
// disk (NODE_COMPILE_CACHE, else the system's temp directory) and reused by the next start, which
// loads about a fifth faster. Then cli.ts runs the service (or `migrate`).
import { enableCompileCache } from 'node:module'

enableCompileCache()
await import('./cli.ts')
