/**
 * Why a credential was refused. The reason goes to the `authFailures` metric and the debug
 * log only; callers always get the same opaque 401.
 */
export type RejectReason =
  | 'missing_token'
  | 'malformed_header'
  | 'malformed'
  | 'unknown_issuer'
  | 'algorithm'
  | 'unknown_kid'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'claims'
  | 'token_use'
  | 'audience'
  | 'revoked'

export class TokenRejectedError extends Error {
  constructor (readonly reason: RejectReason, detail?: string) {
    super(detail ? `${reason}: ${detail}` : reason)
    this.name = 'TokenRejectedError'
  }
}
