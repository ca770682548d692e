import t from 'tap'
import { authorize, claimList, createPolicy, expandRoles, readClaim, rolesFor, toPrincipal } from '../../src/auth/policy.ts'
import { ROLES, type Principal, type Role } from '../../src/auth/types.ts'

const base = {
  ADMIN_GROUPS: 'boilstream-admins, ops',
  WRITE_GROUPS: 'data-producers,etl-services',
  READ_ONLY_GROUPS: 'data-analysts',
  SCOPE_PREFIX: 'boilstream',
  REQUIRED_READ_SCOPES: '',
  REQUIRED_WRITE_SCOPES: '',
  REQUIRED_ADMIN_SCOPES: ''
}
const policy = createPolicy(base)

t.test('configuration lists are split and trimmed', async (t) => {
  t.same([...policy.groups.admin], ['boilstream-admins', 'ops'])
  t.same([...policy.groups.write], ['data-producers', 'etl-services'])
  t.same([...policy.groups.read], ['data-analysts'])
  t.same(policy.requiredScopes, { read: [], write: [], admin: [] })
})

t.test('hierarchy: admin ⊇ write ⊇ read', async (t) => {
  t.same(expandRoles([]), [])
  t.same(expandRoles(['read']), ['read'])
  t.same(expandRoles(['write']), ['read', 'write'])
  t.same(expandRoles(['admin']), ['read', 'write', 'admin'])
  t.same(expandRoles(['read', 'admin']), ['read', 'write', 'admin'])
})

const GROUP_FOR: Record<Role, string> = { admin: 'ops', write: 'etl-services', read: 'data-analysts' }
const EXPECT: Record<Role, Role[]> = { read: ['read'], write: ['read', 'write'], admin: ['read', 'write', 'admin'] }

t.test('every group and every scope form grants its role and those below', async (t) => {
  for (const role of ROLES) {
    t.same(rolesFor(policy, [GROUP_FOR[role]], []), EXPECT[role], `group ${GROUP_FOR[role]}`)
    t.same(rolesFor(policy, [], [`boilstream:${role}`]), EXPECT[role], `scope boilstream:${role}`)
    t.same(rolesFor(policy, [], [`boilstream/${role}`]), EXPECT[role], `scope boilstream/${role}`)
  }
})

t.test('roles are the union of groups and scopes', async (t) => {
  for (const g of ROLES) {
    for (const s of ROLES) {
      const want = EXPECT[ROLES.indexOf(g) > ROLES.indexOf(s) ? g : s]
      t.same(rolesFor(policy, [GROUP_FOR[g]], [`boilstream/${s}`]), want, `group ${g} + scope ${s}`)
    }
  }
})

t.test('nothing else grants anything', async (t) => {
  t.same(rolesFor(policy, ['Ops', 'data-analysts-2', ''], []), [], 'group names are exact and case-sensitive')
  t.same(rolesFor(policy, [], ['boilstream', 'boilstream:', 'boilstream:owner', 'other:admin', 'other/admin', 'aws.cognito.signin.user.admin', 'boilstream.admin', 'BOILSTREAM:admin']), [])
  const custom = createPolicy({ ...base, SCOPE_PREFIX: 'quiver' })
  t.same(rolesFor(custom, [], ['boilstream:admin']), [], 'the prefix is configurable')
  t.same(rolesFor(custom, [], ['quiver/write']), ['read', 'write'])
  const empty = createPolicy({ ...base, ADMIN_GROUPS: '', WRITE_GROUPS: '', READ_ONLY_GROUPS: '' })
  t.same(rolesFor(empty, ['ops', 'data-analysts'], []), [], 'no groups configured: groups grant nothing')
})

t.test('claim lists: arrays, space or comma strings, nested paths', async (t) => {
  t.same(claimList(['a', 'b', 3, '']), ['a', 'b'])
  t.same(claimList('a b  c'), ['a', 'b', 'c'])
  t.same(claimList('a,b'), ['a', 'b'])
  t.same(claimList(undefined), [])
  t.same(claimList({ a: 1 }), [])
  t.same(readClaim({ realm_access: { roles: ['x'] } }, 'realm_access.roles'), ['x'])
  t.same(readClaim({ 'cognito:groups': ['g'] }, 'cognito:groups'), ['g'])
  t.equal(readClaim({ a: 'str' }, 'a.b'), undefined)
})

t.test('toPrincipal: Cognito access and id tokens, OIDC claims', async (t) => {
  const access = toPrincipal(policy, {
    sub: 'u-1', username: 'alice', 'cognito:groups': ['data-producers', 'unrelated'], scope: 'aws.cognito.signin.user.admin boilstream/read', exp: 2000000000, client_id: 'c'
  }, { provider: 'cognito', tokenUse: 'access', groupsClaim: 'cognito:groups' })
  t.same(access, { sub: 'u-1', username: 'alice', tokenUse: 'access', groups: ['data-producers', 'unrelated'], scopes: ['aws.cognito.signin.user.admin', 'boilstream/read'], roles: ['read', 'write'], provider: 'cognito', exp: 2000000000 })

  const id = toPrincipal(policy, { sub: 'u-2', 'cognito:username': 'bob', 'cognito:groups': ['data-analysts'], aud: 'c', exp: 1 }, { provider: 'cognito', tokenUse: 'id', groupsClaim: 'cognito:groups' })
  t.same(id, { sub: 'u-2', username: 'bob', tokenUse: 'id', groups: ['data-analysts'], scopes: [], roles: ['read'], provider: 'cognito', exp: 1 })

  const oidc = toPrincipal(policy, { sub: 'u-3', preferred_username: 'carol', roles: 'ops', scp: ['boilstream:read'], scope: 'openid' }, { provider: 'oidc', tokenUse: 'oidc', groupsClaim: 'roles' })
  t.same(oidc, { sub: 'u-3', username: 'carol', tokenUse: 'oidc', groups: ['ops'], scopes: ['openid', 'boilstream:read'], roles: ['read', 'write', 'admin'], provider: 'oidc' })

  const bare = toPrincipal(policy, { sub: 'u-4', 'cognito:groups': 'not-a-list-but-a-string' }, { provider: 'cognito', tokenUse: 'access', groupsClaim: 'cognito:groups' })
  t.equal(bare.username, 'u-4', 'username falls back to sub')
  t.same(bare.roles, [])
})

function principal (roles: Role[], scopes: string[] = []): Principal {
  return { sub: 's', username: 'u', tokenUse: 'access', groups: [], scopes, roles, provider: 'cognito' }
}

t.test('authorize: every held role against every needed role', async (t) => {
  for (const held of [[], ...ROLES.map((r) => EXPECT[r])] as Role[][]) {
    for (const need of ROLES) {
      const want = held.includes(need) ? { ok: true } : { ok: false, error: 'forbidden', role: need }
      t.same(authorize(principal(held), need), want, `holds [${held}] needs ${need}`)
    }
  }
})

t.test('authorize: required scopes are checked after the role', async (t) => {
  const p = principal(['read', 'write'], ['boilstream:write', 'ingest'])
  t.same(authorize(p, 'write', ['boilstream:write']), { ok: true })
  t.same(authorize(p, 'write', ['boilstream:write', 'ingest']), { ok: true })
  t.same(authorize(p, 'write', ['boilstream:write', 'audit', 'pii']), { ok: false, error: 'missing-scope', role: 'write', missing: ['audit', 'pii'] })
  t.same(authorize(p, 'admin', ['boilstream:write']), { ok: false, error: 'forbidden', role: 'admin' }, 'role before scopes')
  t.same(authorize(p, 'read', []), { ok: true })

  const required = createPolicy({ ...base, REQUIRED_READ_SCOPES: 'r1', REQUIRED_WRITE_SCOPES: 'w1, w2', REQUIRED_ADMIN_SCOPES: 'a1' })
  t.same(required.requiredScopes, { read: ['r1'], write: ['w1', 'w2'], admin: ['a1'] })
  const scoped = principal(['read', 'write', 'admin'], ['r1', 'w1'])
  t.same(authorize(scoped, 'read', required.requiredScopes.read), { ok: true })
  t.same(authorize(scoped, 'write', required.requiredScopes.write), { ok: false, error: 'missing-scope', role: 'write', missing: ['w2'] })
  t.same(authorize(scoped, 'admin', required.requiredScopes.admin), { ok: false, error: 'missing-scope', role: 'admin', missing: ['a1'] })
})
