import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { freePort } from '../helpers/gateway.ts'
import { blocks, readReadme, resultPattern, section, steps } from '../helpers/readme.ts'
import { checkoutCopy, runSteps } from '../helpers/shell.ts'

/**
 * The README's Cognito steps 1–5 run as typed: the real AWS CLI (Debian's `awscli`,
 * /usr/bin/aws, put ahead of any other `aws` on PATH) against cognito-local, started by the
 * README's own step 1, and a gateway started by its step 4 (`npm start … &`), all in one bash in
 * a copy of the checkout. What the test changes, as a user whose ports are taken would:
 * - `export PORT=<free port>` before the steps, and `localhost:3000` becomes `localhost:<that port>`;
 * - cognito-local's `9229` becomes another free port (in its PORT, its IssuerDomain and the URLs).
 * Blocks tagged `aws-only` (step 6: resource servers, client_credentials) need a real pool and
 * are not run; the README says so. Each `# → ` result must match what the command printed.
 */
// About 20 aws CLI runs (1–5 s each on a loaded machine), cognito-local and a gateway from sources.
t.setTimeout(480_000)
const cognito = section(readReadme(), '## Authentication with AWS Cognito')
const STEPS = [
  '### 1. Try it on cognito-local (no AWS account; skip on a real pool)',
  '### 2. Create the pool, the groups and one user per role',
  '### 3. Get tokens',
  '### 4. Configure and start Quiver',
  '### 5. Use the tokens'
]

t.test('README Cognito steps 1–5 run as typed against cognito-local with the AWS CLI', async (t) => {
  t.ok(existsSync('/usr/bin/aws'), 'Debian\'s awscli is installed (apt-get install awscli; .ci/run does)')
  const dir = checkoutCopy(t)
  const [port, cognitoPort] = [await freePort(), await freePort()]
  const typed = STEPS.flatMap((heading) => blocks(section(cognito, heading), ['bash']))
  t.same(typed.map((b) => b.tags), [['cognito-local'], [], [], [], []], 'one block per step; none of them needs a real pool')
  const all = typed.flatMap((b) => steps(b.code.replaceAll('9229', String(cognitoPort)).replaceAll('localhost:3000', `localhost:${port}`)))
  t.ok(all.filter((s) => s.expected.length > 0).length >= 12, 'the steps show their results')

  const env = { PATH: `/usr/bin:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '' }
  const run = await runSteps(t, all, { cwd: dir, env, prelude: `export PORT=${port}` })
  const log = (name: string): string => existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '(none)'
  t.equal(run.code, 0, `every command succeeded\nstderr:\n${run.stderr}\nquiver.log:\n${log('quiver.log')}\ncognito-local.log:\n${log('cognito-local.log')}`)
  all.forEach((step, i) => {
    if (step.expected.length === 0) return
    t.match(run.outputs[i] ?? '(nothing)', resultPattern(step.expected), step.commands.trim().split('\n').filter((l) => !l.startsWith('#'))[0])
  })

  // Beyond what the README prints: the gateway verified against this pool, and logged no token.
  const quiverLog = log('quiver.log')
  t.match(quiverLog, new RegExp(`auth: active providers cognito \\(issuer http://localhost:${cognitoPort}/local_\\w+, audiences \\w+\\)`))
  t.notMatch(quiverLog, /eyJ[\w-]+\.eyJ/, 'no token in the gateway\'s log')
})
