import type { IngestKey } from '../pipeline/types.ts'
import type { Begin, IdempotencyKeys } from '../pipeline/idempotency.ts'
import { IdempotencyInFlightError, IdempotencyKeyReusedError } from '../errors.ts'
import { ARROW_STREAM } from '../http/media-types.ts'
import { RequestHash, type KeyOwner } from '../lake/idempotency-key.ts'
import type { BodyRequest, IngestReply } from './service.ts'

export interface KeyedReply {
  status: 200 | 202
  body: IngestReply
  /** True when this is the stored answer of an earlier request (`Idempotent-Replayed: true`). */
  replayed: boolean
}

/** Buffers a keyed request's rows, handing the pipeline its key; resolves with the answer. */
export type KeyedIngest = (plan: IngestKey) => Promise<IngestReply>

/** One keyed WebSocket message, already claimed: run it (in the session's order) with its ingest. */
export type KeyedMessage = (ingest: KeyedIngest) => Promise<KeyedReply>

/**
 * Requests and messages carrying an Idempotency-Key (README "Exactly-once
 * retries"), one path for both transports. The key is claimed before the body is read (a duplicate
 * in flight is refused at once); the body is hashed (as it streams, over HTTP); the pipeline
 * records the answer and the objects in the claim before any of them is written. A committed key
 * replays its answer once the repeat's body hashed the same (else 422); a failed request frees
 * its key.
 */
export function createKeyedIngest (keys: IdempotencyKeys, ingestBody: (req: BodyRequest) => Promise<IngestReply>, maxBytes: number) {
  async function run (begun: Promise<Begin>, topic: string, ack: BodyRequest['ack'], hash: RequestHash, drain: () => Promise<unknown>, ingest: KeyedIngest): Promise<KeyedReply> {
    const status = ack === 'durable' ? 200 as const : 202 as const
    const started = await begun
    if (started.kind === 'inflight') throw new IdempotencyInFlightError()
    if (started.kind === 'replay') {
      await drain()
      if (hash.digest() !== started.claim.hash) throw new IdempotencyKeyReusedError()
      const reply = started.claim.reply!
      return { status: reply.status as 200 | 202, body: reply.body as IngestReply, replayed: true }
    }
    const claim = started.claim
    let reused = false
    const plan: IngestKey = {
      get footer () { return claim.footer },
      resume: claim.resume,
      plan (at, dirs, r) {
        const digest = hash.digest()
        if (claim.resume !== null && claim.resume.hash !== digest) {
          reused = true
          throw new IdempotencyKeyReusedError()
        }
        claim.answer(digest, { status, body: { topic, rows: r.rows, batches: r.batches, bytes: r.bytes, ack } })
        claim.plan(at, dirs)
      },
      naming: async (objectKey, dir) => await claim.naming(objectKey, dir),
      committed: () => claim.committed()
    }
    try {
      const out = await ingest(plan)
      return { status, body: out, replayed: false }
    } catch (err) {
      if (reused) await claim.abandon()
      else if (claim.open) await claim.release()
      throw err
    }
  }

  return {
    /** An HTTP request: the body is hashed as the normal ingest path reads it. */
    async ingestKeyed (req: BodyRequest, owner: KeyOwner, key: string): Promise<KeyedReply> {
      const hash = new RequestHash(req.mediaType, req.ack)
      return await run(keys.begin(req.topic, owner, key), req.topic, req.ack, hash, async () => await hash.drain(req.body, maxBytes),
        async (plan) => await ingestBody({ ...req, body: hash.tap(req.body), key: plan }))
    },
    /**
     * A WebSocket message (README "Exactly-once over WebSocket"): the same request as an HTTP
     * POST of its bytes as an Arrow stream with `ack=durable`. The key is claimed now, so
     * messages of one connection claim in their order; the session runs the rest in its own.
     */
    message (topic: string, owner: KeyOwner, key: string, bytes: Uint8Array): KeyedMessage {
      const hash = new RequestHash(ARROW_STREAM, 'durable')
      hash.update(bytes)
      const begun = keys.begin(topic, owner, key)
      begun.catch(() => {}) // awaited by the run; a session closed meanwhile never runs it
      return async (ingest) => await run(begun, topic, 'durable', hash, async () => {}, ingest)
    }
  }
}
