import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAllowed, ipBytes, parseAllowRules } from '../src/core/allow.js';

const check = (url: string, rules: string | null) => checkAllowed(new URL(url), rules === null ? null : parseAllowRules(rules));

describe('target allow-list (SPO2_ALLOW_TARGETS)', () => {
  it('allows any http(s) target when no list is configured', () => {
    assert.equal(check('http://10.0.0.7:7700/health', null), null);
    assert.equal(check('https://example.com/', null), null);
    assert.equal(check('http://[2001:db8::1]/', null), null);
  });

  it('refuses link-local addresses (cloud metadata) in every spelling', () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://169.254.0.1:8080/',
      'http://0xa9.0xfe.0xa9.0xfe/',
      'http://2852039166/',
      'http://0251.0376.0251.0376/',
      'http://[fe80::1]/',
      'http://[febf::ffff]/',
      'http://[::ffff:169.254.169.254]/',
      'http://[::ffff:a9fe:a9fe]/',
    ]) {
      assert.match(check(url, null) ?? '', /link-local/, url);
    }
    assert.equal(check('http://[fec0::1]/', null), null);
    assert.equal(check('http://169.253.255.255/', null), null);
  });

  it('opens link-local only to a rule inside the link-local range', () => {
    assert.match(check('http://169.254.169.254/', '0.0.0.0/0') ?? '', /link-local/);
    assert.match(check('http://169.254.169.254/', '*') ?? '', /link-local/);
    assert.equal(check('http://169.254.169.254/', '169.254.169.254'), null);
    assert.equal(check('http://169.254.10.1/', '169.254.0.0/16'), null);
    assert.equal(check('http://[fe80::1]/', 'fe80::/64'), null);
  });

  it('matches IPv4 and IPv6 CIDRs', () => {
    const rules = '10.0.0.0/8, 192.168.1.0/24 fd00::/8';
    assert.equal(check('http://10.200.3.4:9000/', rules), null);
    assert.equal(check('http://192.168.1.255/', rules), null);
    assert.match(check('http://192.168.2.1/', rules) ?? '', /not in SPO2_ALLOW_TARGETS/);
    assert.equal(check('http://[fd12:3456::1]/', rules), null);
    assert.match(check('http://[2001:db8::1]/', rules) ?? '', /not in/);
    assert.equal(check('http://[::ffff:10.1.2.3]/', rules), null);
    assert.match(check('http://example.com/', rules) ?? '', /example\.com is not in/);
  });

  it('matches host patterns: *.domain is any subdomain, a name is that host', () => {
    const rules = '*.svc.cluster.local,status.example.com';
    assert.equal(check('http://api.ns.svc.cluster.local:8080/healthz', rules), null);
    assert.equal(check('http://API.NS.SVC.Cluster.Local./healthz', rules), null);
    assert.match(check('http://svc.cluster.local/', rules) ?? '', /not in/);
    assert.match(check('http://evilsvc.cluster.local/', rules) ?? '', /not in/);
    assert.equal(check('https://status.example.com/', rules), null);
    assert.match(check('https://x.status.example.com/', rules) ?? '', /not in/);
    assert.match(check('http://10.0.0.1/', rules) ?? '', /not in/);
  });

  it('compares IDN hosts in their ASCII form', () => {
    assert.equal(check('http://bücher.example/', 'bücher.example'), null);
    assert.equal(check('http://xn--bcher-kva.example/', '*.example'), null);
  });

  it('rejects bad entries with a message naming them', () => {
    assert.throws(() => parseAllowRules('10.0.0.0/33'), /10\.0\.0\.0\/33/);
    assert.throws(() => parseAllowRules('10.0.0.0/x'), /prefix/);
    assert.throws(() => parseAllowRules('foo/8'), /invalid CIDR/);
    assert.throws(() => parseAllowRules('a.*.com'), /host pattern/);
    assert.throws(() => parseAllowRules(' , '), /expected a list/);
  });

  it('reads IPv6 text into bytes', () => {
    assert.deepEqual([...ipBytes('::1')!], [...Array(15).fill(0), 1]);
    assert.deepEqual([...ipBytes('::ffff:1.2.3.4')!], [1, 2, 3, 4]);
    assert.equal(ipBytes('example.com'), null);
  });
});
