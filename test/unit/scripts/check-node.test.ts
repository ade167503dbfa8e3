import { createRequire } from 'node:module'
import { describe, expect, test } from 'vitest'

// Plain CommonJS (old Node versions must be able to parse it), so it is required, not imported.
const { nodeVersionProblem } = createRequire(import.meta.url)('../../../scripts/check-node.cjs') as {
  nodeVersionProblem: (version: string) => string | undefined
}

describe('nodeVersionProblem', () => {
  test('accepts every Node that strips types by default', () => {
    for (const version of ['22.18.0', 'v22.18.0', '22.21.1', '23.6.0', '23.11.1', '24.0.0', '24.21.0', '25.2.1', '30.0.0']) {
      expect(nodeVersionProblem(version), version).toBeUndefined()
    }
  })

  test('refuses older ones in one line that names the need, the recommendation and the version found', () => {
    expect(nodeVersionProblem('v20.20.2')).toBe('Mechanic needs Node.js >= 22.18 (24 LTS recommended); this is Node.js 20.20.2.')
    for (const version of ['22.17.1', '22.0.0', '21.7.3', '18.20.8', '16.0.0', '10.24.1', '4.9.1']) {
      const problem = nodeVersionProblem(version)
      expect(problem, version).toMatch(/^Mechanic needs Node\.js >= 22\.18 \(24 LTS recommended\); this is Node\.js [\d.]+\.$/)
      expect(problem).toContain(version)
    }
  })

  test('Node 23 before 23.6 is refused with the 23.x bound, since it strips types only behind a flag', () => {
    expect(nodeVersionProblem('23.5.0')).toBe('Mechanic needs Node.js >= 22.18 (24 LTS recommended; 23.x needs 23.6 or newer); this is Node.js 23.5.0.')
    expect(nodeVersionProblem('23.0.0')).toMatch(/23\.x needs 23\.6 or newer/)
  })

  test('a version it cannot read is refused rather than let through', () => {
    expect(nodeVersionProblem('garbage')).toMatch(/^Mechanic needs Node\.js >= 22\.18/)
  })
})
