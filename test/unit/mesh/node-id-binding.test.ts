import test from 'ava';
import { nodeIdBindingProblem, nodeIdMatchesName } from '../../../src/replication/mesh/node-id-binding.js';

test('a node id matches its name, and the ids derived from that host name (short or fully qualified)', (t) => {
  t.true(nodeIdMatchesName('couic1', 'couic1'));
  t.true(nodeIdMatchesName('couic1-1a2b3c4d', 'couic1'));
  t.true(nodeIdMatchesName('couic1.couic.tld-1a2b3c4d', 'couic1'));
  t.true(nodeIdMatchesName('couic1.couic.tld-1a2b3c4d', 'couic1.couic.tld'));
  t.true(nodeIdMatchesName('Couic1', 'couic1'));
  t.false(nodeIdMatchesName('couic12-1a2b3c4d', 'couic1'));
  t.false(nodeIdMatchesName('couic1-impostor', 'couic1'));
  t.false(nodeIdMatchesName('couic1-1a2b3c4d-x', 'couic1'));
  t.false(nodeIdMatchesName('auth1-impostor', 'c-peer2'));
  t.false(nodeIdMatchesName('x', ''));
});

test('issue 14 (9): the binding checks the configured credential; "none" checks nothing', (t) => {
  const credentials = { clientName: 'c-peer2', certificateName: 'node2' };
  t.regex(nodeIdBindingProblem('auth1-impostor', credentials, 'client') ?? '', /not bound to its credentials: its peering client is "c-peer2"/);
  t.is(nodeIdBindingProblem('c-peer2', credentials, 'client'), undefined);
  t.regex(nodeIdBindingProblem('c-peer2', credentials, 'certificate') ?? '', /client certificate CN is "node2"/);
  t.is(nodeIdBindingProblem('node2-0badcafe', credentials, 'certificate'), undefined);
  t.is(nodeIdBindingProblem('anything', credentials, 'none'), undefined);
});
