// Splitting a text into lines, for the line-per-example formats (parallel text, labelled text). Plain
// string work, so it loads in browsers too; reading files is text-file.ts (Node).

/** The lines of a text; a final newline does not make an extra (empty) line, and \r\n ends are accepted. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
