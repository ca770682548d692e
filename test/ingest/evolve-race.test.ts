import t from 'tap'
import { Field, Int32, Int64, RecordBatch, Schema, Struct, Table, Utf8, makeData, tableToIPC, vectorFromArray } from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'

/*
 * Two streams add the same field at once, with different types. The one that loses the race is a
 * stream that does not fit the topic: 422 QUIVER_SCHEMA_MISMATCH naming the field and what would
 * be accepted, exactly what the same stream gets a moment later. Found from outside: the loser got
 * QUIVER_SCHEMA_INCOMPATIBLE, the code of PATCH /v1/topics, with another message.
 */
function stream (z: { type: Int32 | Utf8, value: number | string }): Buffer {
  const fields = [new Field('id', new Int64(), false), new Field('z', z.type, true)]
  const children = [vectorFromArray([1n], new Int64()).data[0], vectorFromArray([z.value], z.type).data[0]]
  return Buffer.from(tableToIPC(new Table([new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: 1, nullCount: 0, children }))]), 'stream'))
}

t.test('the stream that loses a race to add a field is refused as any stream that does not fit: QUIVER_SCHEMA_MISMATCH, the later message', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const writer = localToken(dataDir, ['write'])
  t.equal((await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'evc', schema: { fields: [{ name: 'id', type: 'int64', nullable: false }] } } })).statusCode, 201)
  const post = (body: Buffer) => app.inject({ method: 'POST', url: '/v1/topics/evc/records', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, payload: body })
  const asInt = stream({ type: new Int32(), value: 7 })
  const asString = stream({ type: new Utf8(), value: 's' })
  const answers = await Promise.all([post(asInt), post(asString), post(asInt), post(asString)])
  const won = answers[0].statusCode === 200 ? 'int' : 'string'
  const losers = answers.filter((r) => r.statusCode !== 200)
  t.equal(losers.length, 2, answers.map((r) => r.body).join(' | '))
  // A moment later, the losing shape again: the answer every loser must have had.
  const later = await post(won === 'int' ? asString : asInt)
  t.equal(later.statusCode, 422)
  t.equal(later.json().code, 'QUIVER_SCHEMA_MISMATCH')
  for (const r of losers) t.same([r.statusCode, r.json()], [422, later.json()], 'the race\'s loser: the same answer')
})
