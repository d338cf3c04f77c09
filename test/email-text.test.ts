// The e-mail → text step of the spam experiment (experiments/email-text.ts) on hand-made messages: only the
// Subject of the headers, MIME parts walked, transfer encodings and charsets decoded, HTML reduced to text,
// attachments dropped, characters folded to printable ASCII. Needs no corpus.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emailToText, foldText, htmlToText } from '../experiments/email-text.js';

const msg = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');

test('headers: the Subject only (folded, RFC 2047 decoded), never Received or From', () => {
  const r = emailToText(msg([
    'From spammer@example.com  Thu Aug 22 12:36:23 2002',
    'Received: from mail.example.com by zzzz.taint.org',
    'From: Someone <someone@example.com>',
    'Subject: =?iso-8859-1?Q?Caf=E9?= =?utf-8?B?IOKAlCBvcGVu?=',
    '  tonight',
    'Subject: a second subject is ignored',
    '',
    'Hello   there,',
    '\tsee you.',
  ].join('\n')), 1000);
  assert.equal(r.text, 'Cafe - open tonight Hello there, see you.');
  assert.equal(r.html, false);
  assert.equal(r.attachments, 0);
});

test('multipart/alternative is read once, from its text/plain part; quoted-printable decoded', () => {
  const r = emailToText(msg([
    'Subject: offer',
    'Content-Type: multipart/alternative; boundary="XYZ"',
    '',
    'This is a multi-part message in MIME format.',
    '--XYZ',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Price =3D 10=A3, a very long line that was cut =',
    'here.',
    '--XYZ',
    'Content-Type: text/html',
    '',
    '<p>HTML copy</p>',
    '--XYZ--',
    'epilogue',
  ].join('\n')), 1000);
  assert.equal(r.text, 'offer Price = 10GBP, a very long line that was cut here.');
  assert.equal(r.html, false);
});

test('multipart/mixed: base64 UTF-8 HTML read as text, a non-text attachment dropped', () => {
  const html = Buffer.from('<html><head><style>p { color: red }</style></head><body><p>Caf\u00e9&nbsp;&amp;<b>more</b>&#33;</p><script>x()</script></body></html>', 'utf8').toString('base64');
  const r = emailToText(msg([
    'Subject: mixed',
    'Content-Type: multipart/mixed; boundary=outer',
    '',
    '--outer',
    'Content-Type: text/html; charset="utf-8"',
    'Content-Transfer-Encoding: base64',
    '',
    html.slice(0, 40),
    html.slice(40),
    '--outer',
    'Content-Type: image/gif; name="x.gif"',
    'Content-Transfer-Encoding: base64',
    '',
    'R0lGODlhAQABAAAAACw=',
    '--outer--',
  ].join('\n')), 1000);
  assert.equal(r.text, 'mixed Cafe & more !');
  assert.equal(r.html, true);
  assert.equal(r.attachments, 1);
});

test('htmlToText and foldText: tags separate words, entities decoded, non-ASCII folded, text cut', () => {
  assert.equal(foldText(htmlToText('a<br>b<!-- hidden -->c&lt;d&#x41;&unknown;')), 'a b c<dA&unknown;');
  assert.equal(foldText('\u201cquoted\u201d \u2014 na\u00efve\u2026  \u4f60\u597d\u4e16\u754c end'), '"quoted" - naive... ¤ end');
  assert.equal(foldText('tab\there\nnewline\u00a0nbsp'), 'tab here newline nbsp');
  const r = emailToText(msg('Subject: 0123456789\n\nbody'), 4);
  assert.equal(r.text, '0123');
  // No header/body separator at all: headers only, no body.
  assert.equal(emailToText(msg('Subject: only'), 100).text, 'only');
});
