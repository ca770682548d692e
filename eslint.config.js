import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['dist/**', 'data/**', 'coverage/**', '.tap/**', 'src/console/vendor/**', 'test/fixtures/generated/**', 'test/output/**']
})
