// Vocabulary.fromText against PyTorch's recipe, `sorted(set(text))`: one id per code point (a character
// outside the BMP is one id, not two surrogate halves), in code-point order. The order matters beyond
// tidiness: a state_dict moved between the two systems (embedding rows, head rows) is only meaningful
// when both give every character the same id. The expected lists are what Python prints for these texts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Vocabulary } from '../src/data/vocabulary.js';

test('fromText orders by code point, as sorted(set(text)): astral characters after U+E000..U+FFFF', () => {
  // UTF-16 order (JavaScript's default sort) would put U+20000 (surrogates D840 DC00) before U+FF01 and U+E000.
  const text = '\u{20000}！\u{E000}一\u{1F600}a\n\u{20000}一';
  // /usr/bin/python3 -c "print([hex(ord(c)) for c in sorted(set('\U00020000！\ue000一\U0001F600a\n\U00020000一'))])"
  // ['0xa', '0x61', '0x4e00', '0xe000', '0xff01', '0x1f600', '0x20000']
  const v = Vocabulary.fromText(text);
  assert.deepEqual(v.chars.map((c) => c.codePointAt(0)!.toString(16)), ['a', '61', '4e00', 'e000', 'ff01', '1f600', '20000']);
  assert.equal(v.size, 7);
});

test('encode gives one id per code point and decode inverts it', () => {
  const text = 'x\u{20000}\u{20001}y\u{20000}';
  const v = Vocabulary.fromText(text);
  const ids = v.encode(text);
  assert.equal(ids.length, 5); // 5 code points, 8 UTF-16 units
  assert.deepEqual([...ids], [0, 2, 3, 1, 2]);
  assert.equal(v.decode(ids), text);
});
