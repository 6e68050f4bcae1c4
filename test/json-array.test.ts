import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { jsonArrayStream } from '../src/http/json-array.js';

describe('jsonArrayStream', () => {
  test('gives the same bytes as JSON.stringify of the array: empty, one value, many slices, any text', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({ id: i, url: `http://t${i}.test/`, data: { note: 'héllo 🎉 "quoted" \\ \n', n: i / 3 }, lastCheck: null }));
    for (const values of [[], [{ a: 1 }], many]) {
      assert.equal(await text(jsonArrayStream(values)), JSON.stringify(values));
    }
  });

  test('serializes a slice at a time, each in a turn of its own, as the reader asks', async () => {
    let read = 0;
    function* values() {
      for (let i = 0; i < 10_000; i++) {
        read++;
        yield { i, pad: 'p'.repeat(100) };
      }
    }
    const stream = jsonArrayStream(values());
    stream.pause();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(read < 2000, `read ${read} values before anyone asked for them`);
    let turns = 0;
    let done = false;
    const spin = () => {
      turns++;
      if (!done) setImmediate(spin);
    };
    setImmediate(spin);
    await text(stream);
    done = true;
    assert.equal(read, 10_000);
    assert.ok(turns >= 10, `the loop turned ${turns} times while 1 MB (16 slices) was serialized`);
  });
});
