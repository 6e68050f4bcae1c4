import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Serialized this much at a time: ~150 values of 450 bytes, well under a millisecond, so
 * the loop (probes, /healthz) is never held for long however big the list.
 */
const SLICE_CHARS = 64 * 1024;

/**
 * A JSON array of `values` as a byte stream, the same bytes as `JSON.stringify([...values])`,
 * made a slice at a time as the reader takes them: a reader that stops reading stops the
 * serializing (the pipe's backpressure), and each slice is made in a turn of its own.
 * `values` may be a live view; each value is serialized whole when it is reached.
 */
export function jsonArrayStream(values: Iterable<unknown>): Readable {
  return Readable.from(slices(values), { objectMode: false });
}

async function* slices(values: Iterable<unknown>): AsyncGenerator<string> {
  let slice = '[';
  let first = true;
  for (const value of values) {
    slice += first ? JSON.stringify(value) : ',' + JSON.stringify(value);
    first = false;
    if (slice.length >= SLICE_CHARS) {
      yield slice;
      slice = '';
      await nextTurn();
    }
  }
  yield slice + ']';
}
