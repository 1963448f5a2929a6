// Domain errors: kinds, names and messages that list every violation.
import test from 'ava';
import {
  AlreadyExistsError,
  CapacityExceededError,
  CouicError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  ViolationCollector,
} from '../../../src/domain/errors.js';

test('InvalidArgumentError lists every violation in its message', (t) => {
  const error = new InvalidArgumentError([
    { field: 'rules[0].cidr', message: 'is empty' },
    { field: 'rules[3].tag', message: 'must be at most 64 characters' },
  ]);
  t.is(error.kind, 'invalid-argument');
  t.is(error.name, 'InvalidArgumentError');
  t.true(error instanceof CouicError);
  t.true(error instanceof Error);
  t.is(error.violations.length, 2);
  t.is(error.message, 'rules[0].cidr: is empty; rules[3].tag: must be at most 64 characters');
});

test('InvalidArgumentError.single names one field', (t) => {
  const error = InvalidArgumentError.single('expiration', 'must be in the future');
  t.deepEqual(error.violations, [{ field: 'expiration', message: 'must be in the future' }]);
  t.is(error.message, 'expiration: must be in the future');
});

const simple = [
  [NotFoundError, 'not-found', 'NotFoundError'],
  [AlreadyExistsError, 'already-exists', 'AlreadyExistsError'],
  [FailedPreconditionError, 'failed-precondition', 'FailedPreconditionError'],
  [CapacityExceededError, 'resource-exhausted', 'CapacityExceededError'],
  [UnauthenticatedError, 'unauthenticated', 'UnauthenticatedError'],
  [PermissionDeniedError, 'permission-denied', 'PermissionDeniedError'],
] as const;

for (const [Class, kind, name] of simple) {
  test(`${name} has kind ${kind} and keeps its message`, (t) => {
    const error = new Class('something precise');
    t.is(error.kind, kind);
    t.is(error.name, name);
    t.is(error.message, 'something precise');
    t.true(error instanceof CouicError);
  });
}

test('each error kind is distinct', (t) => {
  const kinds = [...simple.map(([, kind]) => kind), new InvalidArgumentError([]).kind];
  t.is(new Set(kinds).size, kinds.length);
});

test('ViolationCollector ignores undefined messages and does not throw when empty', (t) => {
  const collector = new ViolationCollector();
  collector.add('tag', undefined);
  collector.add('cidr', undefined);
  t.is(collector.violations.length, 0);
  t.notThrows(() => collector.throwIfAny());
});

test('ViolationCollector throws all violations together, in order', (t) => {
  const collector = new ViolationCollector();
  collector.add('cidr', 'is empty');
  collector.add('tag', undefined);
  collector.add('expiration', 'must be in the future');
  const error = t.throws(() => collector.throwIfAny(), { instanceOf: InvalidArgumentError });
  t.deepEqual(error?.violations, [
    { field: 'cidr', message: 'is empty' },
    { field: 'expiration', message: 'must be in the future' },
  ]);
  t.regex(error?.message ?? '', /cidr: is empty; expiration: must be in the future/);
});

test('the thrown error is a snapshot: later additions do not change it', (t) => {
  const collector = new ViolationCollector();
  collector.add('a', 'bad');
  const error = t.throws(() => collector.throwIfAny(), { instanceOf: InvalidArgumentError });
  collector.add('b', 'bad too');
  t.is(error?.violations.length, 1);
});
