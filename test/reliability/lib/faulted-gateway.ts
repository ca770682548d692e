import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startS3rver, type S3rverHandle } from '../../helpers/s3rver.ts'
import { startFaultProxy, type FaultProxy } from '../../helpers/fault-proxy.ts'
import { TEST_TOPIC_SCHEMA } from '../../helpers/arrow.ts'
import { preparedDataDir } from './tokens.ts'

/** The answer of a request whose data storage did not take (503, CONTRACT §6). */
/** The same for what is not an ingest (reads, topics, tokens). */
export const STORAGE_FAILING = { statusCode: 503, code: 'QUIVER_STORAGE_UNAVAILABLE', error: 'Service Unavailable', message: 'Storage is failing; retry shortly' }
export const STORAGE_DOWN = { statusCode: 503, code: 'QUIVER_STORAGE_UNAVAILABLE', error: 'Service Unavailable', message: 'Storage is failing; the data was not committed, retry shortly' }

/**
 * A real gateway process on a real s3rver, the fault proxy between them (faults set on `proxy`),
 * with `topic` created (TEST_TOPIC_SCHEMA) and tokens minted with the gateway's own key.
 */
export async function faultedGateway (t: Parameters<typeof startGateway>[0] & Parameters<typeof preparedDataDir>[0], topic: string): Promise<{ s3: S3rverHandle, proxy: FaultProxy, gw: Gateway, token: ReturnType<typeof preparedDataDir>['token'], admin: string }> {
  const s3 = await startS3rver(t)
  const proxy = await startFaultProxy(t, s3.endpoint)
  const { dataDir, token } = preparedDataDir(t)
  const gw = await startGateway(t, { ...s3.env, S3_ENDPOINT: proxy.url, DATA_DIR: dataDir, FLUSH_INTERVAL_MS: '100' }, { timeoutMs: 60_000 })
  const admin = token(['admin'])
  const created = await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: topic, schema: TEST_TOPIC_SCHEMA }) })
  if (created.status !== 201) throw new Error(`creating topic ${topic}: ${created.status} ${await created.text()}`)
  return { s3, proxy, gw, token, admin }
}
