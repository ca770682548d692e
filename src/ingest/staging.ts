import { OverloadedError } from '../errors.ts'
import { SharedSlabs } from '../pipeline/shared-slabs.ts'
import { stagedSlabRequest, stagedWindowBytes } from '../pipeline/row-group-stream.ts'
import type { Admission, Reservation } from './admission.ts'
import type { StageSlot } from './large-request.ts'

/** Staged requests at once, whatever the budget leaves room for: each keeps encoder threads busy. */
export const MAX_STAGED_REQUESTS = 2
/**
 * Staging slabs kept free for the next staged request, beside the budget (a new one costs ~9 ms a
 * MiB in page faults). Shared memory is freed only once the encoder threads' heaps let go of it
 * too: a pool that dropped its slabs whenever the budget was short and made new ones churned
 * 1.2 GiB of ArrayBuffers with 16 staged writers and a 64 MiB budget.
 */
export const STAGING_KEPT_BYTES = 64 * 1024 * 1024

export interface StagingNeed {
  /** IPC bytes per row group: the schema's (stagedGroupBytes), less when the threshold is small. */
  groupBytes: number
  /** Row groups in flight (RowGroupStream's window). */
  window: number
  /** Memory the request's staging holds beside its body's reservation. */
  bytes: number
}

/**
 * What a staged request of `groupBytes` row groups holds beside its body's reservation: its IPC
 * slabs and encoded groups (stagedWindowBytes) and what storage keeps of a streamed object (S3:
 * lib-storage's parts). The windows take no more than the large-request threshold: the window is
 * as deep as the encoder threads use (threads + 2) or as that leaves room for, and row groups are
 * smaller than the schema's when even two slabs would not fit (budgets of a few MiB). With the
 * budget's quarter for the body and at most another for the windows, a 64 MiB MAX_BUFFERED_BYTES
 * stages two requests at once on local storage.
 */
export function stagingNeed (o: { threshold: number, threads: number, groupBytes: number, storageBytes: number, slabs: SharedSlabs }): StagingNeed {
  const groupBytes = Math.max(64 * 1024, Math.min(o.groupBytes, Math.floor(o.threshold / 2.5)))
  const slab = o.slabs.sizeFor(stagedSlabRequest(groupBytes))
  const window = Math.max(1, Math.min(o.threads + 2, Math.floor(o.threshold / slab) - 1))
  return { groupBytes, window, bytes: stagedWindowBytes(groupBytes, window, o.slabs) + o.storageBytes }
}

/**
 * The staging slots of one ingest service: at most MAX_STAGED_REQUESTS, each reserving its
 * StagingNeed in MAX_BUFFERED_BYTES beside its request's body (Admission.reserveBeside), so
 * buffered + staged + bodies being read stay within the budget together. A request that cannot
 * get a slot gets OverloadedError (503 + Retry-After) before its staging holds anything.
 */
export class StagingSlots {
  readonly slabs = new SharedSlabs(STAGING_KEPT_BYTES, 10_000, 1)
  #busy = 0
  readonly #admission: Admission
  readonly #o: { threshold: number, threads: number, storageBytes: number }

  constructor (admission: Admission, o: { threshold: number, threads: number, storageBytes: number }) {
    this.#admission = admission
    this.#o = o
  }

  get busy (): number { return this.#busy }

  /**
   * A slot for one request whose body holds `body`: take(groupBytes) reserves what row groups of
   * that size need (more than taken so far: the difference), release() gives everything back and
   * may be called any number of times.
   */
  open (body: Reservation): { take: (groupBytes: number) => StageSlot, release: () => void, readonly bytes: number } {
    const held: Reservation[] = []
    let counted = false
    let reserved = 0
    const release = (): void => {
      for (const r of held.splice(0)) r.release()
      reserved = 0
      if (counted) this.#busy--
      counted = false
    }
    const take = (groupBytes: number): StageSlot => {
      const need = stagingNeed({ ...this.#o, groupBytes, slabs: this.slabs })
      if (!counted && this.#busy >= MAX_STAGED_REQUESTS) throw new OverloadedError()
      if (need.bytes > reserved) {
        held.push(this.#admission.reserveBeside(need.bytes - reserved, body.bytes + reserved))
        reserved = need.bytes
      }
      if (!counted) this.#busy++
      counted = true
      return { rowGroupBytes: need.groupBytes, window: need.window, slabs: this.slabs, release }
    }
    return { take, release, get bytes () { return reserved } }
  }
}
