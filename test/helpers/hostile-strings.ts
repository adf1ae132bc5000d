/** Strings that try to break out of a string literal in every language we translate to. */
export function hostileStrings(CANARY: string): string[] {
  return [
  '', 'plain', 'say "hi"', "it's", "'", '"', '"""', "'''", '\\', '\\\\', 'trailing\\', '\\n literal', '\\x41', '\\u0041', '\\N{BULLET}',
  'a\nb', 'a\r\nb', '\r', '\t', '\x0b\x0c', '\x1b[31mred', '\x01\x03\x04\x15\x1a', '\x7f', '\u0085', '\u2028\u2029', '\ufeff', '\u200b', '\u202e',
  'é', 'ünïcödé', '日本語', '😀', '👩‍👩‍👧', '\u{10FFFF}', '\ue000',
  '${HOME}', '$HOME', '`id`', '#{x}', '{x}', '%s', '%%bash', '“smart” ‘quotes’ „low“', '`$', '$`', 'a?', '?',
  `$(touch ${CANARY})`, `\`touch ${CANARY}\``, `"; touch ${CANARY}; "`, `'; touch ${CANARY}; '`, `'$(touch ${CANARY})'`,
  `"); import os; os.system("touch ${CANARY}") #`, `")\nsystem("touch ${CANARY}")\n#`, `\\"); system("touch ${CANARY}"); ("`,
  `\x15touch ${CANARY} #`, `%%bash\ntouch ${CANARY}`, `\n!touch ${CANARY}\n`, `\\\ntouch ${CANARY}`,
  ];
}
