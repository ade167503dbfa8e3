// Run by `npm start` and `npm run migrate` before `node main.ts`: on a Node that cannot strip types,
// say so in one line instead of ERR_UNKNOWN_FILE_EXTENSION. CommonJS and ES5 on purpose, so that
// any old Node can parse it; it reads nothing and loads nothing, so a start costs no more than a
// bare `node`.
/* global module, require, process, console */
'use strict'

/**
 * Why `version` (e.g. "20.20.2" or "v20.20.2") cannot run Mechanic's TypeScript, or undefined when
 * it can. Type stripping is on by default from 22.18 in the 22 line and from 23.6 in the 23 line.
 */
function nodeVersionProblem(version) {
  var parts = String(version).replace(/^v/, '').split('.')
  var major = Number(parts[0])
  var minor = Number(parts[1])
  var fine = major > 23 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18)
  if (fine) return undefined
  var hint = major === 23 ? '; 23.x needs 23.6 or newer' : ''
  return 'Mechanic needs Node.js >= 22.18 (24 LTS recommended' + hint + '); this is Node.js ' + String(version).replace(/^v/, '') + '.'
}

module.exports = { nodeVersionProblem: nodeVersionProblem }

if (require.main === module) {
  var problem = nodeVersionProblem(process.versions.node)
  if (problem) {
    console.error(problem)
    process.exitCode = 1
  }
}
