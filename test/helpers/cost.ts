/**
 * What a piece of code costs, measured so that a busy machine does not change the verdict.
 *
 * CPU time of this process (every thread: JIT, GC, workers), not wall-clock: time spent waiting for
 * a core that a neighbour holds is not counted. And the cost at n is compared with the cost at 4n,
 * both measured in the same run, instead of with a fixed number of milliseconds that a slow CI box
 * under V8 coverage may not meet: linear code costs about 4 times more, quadratic code 16 times.
 */
export async function cpuMs (fn: () => unknown): Promise<number> {
  const start = process.cpuUsage()
  await fn()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}

/**
 * The least CPU time of each of `fns`, measured in turn `runs` times after one warm-up each: noise
 * (a collection, a preempted thread) only ever adds, and a neighbour slowing this core weighs on all alike.
 */
export async function leastCpuMsEach (fns: Array<() => unknown>, runs = 5): Promise<number[]> {
  for (const fn of fns) await fn()
  const least = fns.map(() => Infinity)
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of fns.entries()) least[k] = Math.min(least[k], await cpuMs(fn))
  }
  return least
}

export interface Growth { small: number, large: number, ratio: number, text: string }

/**
 * The cost of `fn(n)` and of `fn(4 * n)` and their ratio: about 4 when the cost is linear in n,
 * 16 when quadratic. Each measurement repeats its call enough times for the one at n to take
 * `targetMs` of CPU, so that the clock's resolution and a lone collection weigh little; the two
 * sizes are measured in turn, so that a neighbour slowing this core weighs on both alike; the
 * least of `runs` measurements of each is kept.
 */
export async function growth (fn: (n: number) => unknown, n: number, o: { runs?: number, targetMs?: number } = {}): Promise<Growth> {
  let reps = 1
  const repeated = (size: number) => async () => { for (let i = 0; i < reps; i++) await fn(size) }
  await repeated(n)()
  while (await cpuMs(repeated(n)) < (o.targetMs ?? 50)) reps *= 2
  const [small, large] = await leastCpuMsEach([repeated(n), repeated(4 * n)], o.runs)
  const ratio = large / Math.max(small, 0.001)
  return { small, large, ratio, text: `${reps}× at ${n}: ${small.toFixed(1)} ms, at ${4 * n}: ${large.toFixed(1)} ms of CPU, ×${ratio.toFixed(1)}` }
}

/**
 * Below this ratio of cost(4n) / cost(n) the code is taken as linear. Linear code measured 4 to 6
 * here (a larger input falls out of the caches and is collected more), quadratic code gives 16.
 */
export const LINEAR = 10
