// A private temp directory per scenario run, removed afterwards (COUIC_KEEP_TMP keeps
// it): the test kit's makeTempDir in an owned scope closed when `body` ends.
import { makeTempDir, withScope } from '../../test/helpers/tmp.js';

export function withTempDir<T>(prefix: string, body: (dir: string) => Promise<T>): Promise<T> {
  return withScope(async (scope) => body(await makeTempDir(scope, prefix)));
}
