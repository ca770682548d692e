import { request, type Dispatcher } from 'undici'
import type { FieldSpec, TopicRecord } from '../schema/topic-schema.ts'
import { DeliveryError, describeErrorBody, isRetryableStatus } from './errors.ts'

export interface ApiClient {
  url: string
  token: string | null
  dispatcher?: Dispatcher
}

export function authHeaders (api: ApiClient): Record<string, string> {
  return api.token ? { authorization: `Bearer ${api.token}` } : {}
}

async function call (api: ApiClient, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number, json: unknown }> {
  let res
  try {
    res = await request(new URL(path, api.url), {
      method,
      headers: { ...authHeaders(api), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: api.dispatcher
    })
  } catch (err) {
    throw new DeliveryError(`cannot reach ${api.url}: ${(err as Error).message}`, true)
  }
  const text = await res.body.text()
  if (res.statusCode >= 400 && res.statusCode !== 404 && res.statusCode !== 409) {
    const { message, code } = describeErrorBody(res.statusCode, text)
    throw new DeliveryError(`${method} ${path}: ${message}`, isRetryableStatus(res.statusCode), undefined, code)
  }
  return { status: res.statusCode, json: text ? JSON.parse(text) : null }
}

/** The topic's record (with its schema), or null when it does not exist yet. */
export async function getTopic (api: ApiClient, topic: string): Promise<TopicRecord | null> {
  const { status, json } = await call(api, 'GET', `/v1/topics/${encodeURIComponent(topic)}`)
  return status === 404 ? null : json as TopicRecord
}

/** Creates the topic; an existing topic is fine (another producer may have won the race). */
export async function createTopic (api: ApiClient, topic: string, fields: FieldSpec[]): Promise<void> {
  const { status, json } = await call(api, 'POST', '/v1/topics', { name: topic, schema: { fields } })
  if (status === 404) throw new DeliveryError(`POST /v1/topics: 404 ${JSON.stringify(json)}`, false)
}
