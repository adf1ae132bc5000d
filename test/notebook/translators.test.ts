import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTranslator, pythonLiteral, renderParametersCell, rLiteral } from '../../src/notebook/translators/index.js';
import { PyFloat } from '../../src/notebook/py-float.js';
import { ParameterError, UnsupportedLanguageError } from '../../src/errors.js';
import type { ParameterValue } from '../../src/notebook/notebook-types.js';
import { hostileStrings } from '../helpers/hostile-strings.js';

const KERNELS = {
  python: 'python', R: 'ir', scala: 'scala', julia: 'julia', matlab: 'matlab',
  csharp: '.net-csharp', fsharp: '.net-fsharp', powershell: '.net-powershell', bash: 'bash',
} as const;
type Lang = keyof typeof KERNELS;
const lit = (lang: Lang, v: ParameterValue) => getTranslator(KERNELS[lang], undefined).translate(v);

const ERR = Symbol('error');
// The rendering table of docs/papermill-semantics.md, one row per value.
const TABLE: [ParameterValue, Record<Lang, string | typeof ERR>][] = [
  ['say "hi"', {
    python: '"say \\"hi\\""', R: '"say \\"hi\\""', scala: '"say \\"hi\\""', julia: '"say \\"hi\\""', matlab: '"say ""hi"""',
    csharp: '"say \\"hi\\""', fsharp: '"say \\"hi\\""', powershell: '"say `"hi`""', bash: `'say "hi"'`,
  }],
  [true, { python: 'True', R: 'TRUE', scala: 'true', julia: 'true', matlab: 'true', csharp: 'true', fsharp: 'true', powershell: '$True', bash: 'true' }],
  [null, { python: 'None', R: 'NULL', scala: 'None', julia: 'nothing', matlab: 'NaN', csharp: ERR, fsharp: 'None', powershell: '$Null', bash: '' }],
  [3000000000, {
    python: '3000000000', R: '3000000000', scala: '3000000000L', julia: '3000000000', matlab: '3000000000',
    csharp: '3000000000L', fsharp: '3000000000L', powershell: '3000000000', bash: '3000000000',
  }],
  [[1, 'a', true, null], {
    python: '[1, "a", True, None]', R: 'list(1, "a", TRUE, NULL)', scala: 'Seq(1, "a", true, None)', julia: '[1, "a", true, nothing]',
    matlab: '{1, "a", true, NaN}', csharp: ERR, fsharp: '[ 1; "a"; true; None ]', powershell: '@(1, "a", $True, $Null)', bash: '(1 a true )',
  }],
  [[1, 'a', true], {
    python: '[1, "a", True]', R: 'list(1, "a", TRUE)', scala: 'Seq(1, "a", true)', julia: '[1, "a", true]', matlab: '{1, "a", true}',
    csharp: 'new [] { 1, "a", true }', fsharp: '[ 1; "a"; true ]', powershell: '@(1, "a", $True)', bash: '(1 a true)',
  }],
  [{ k: 1 }, {
    python: '{"k": 1}', R: 'list("k" = 1)', scala: 'Map("k" -> 1)', julia: 'Dict("k" => 1)', matlab: "containers.Map({'k'}, {1})",
    csharp: 'new Dictionary<string,Object>{ { "k" , 1 } }', fsharp: '[ ("k", 1 :> IComparable) ] |> Map.ofList', powershell: '@{"k" = 1}', bash: ERR,
  }],
];

for (const [value, row] of TABLE) {
  test(`rendering table row ${JSON.stringify(value)}`, () => {
    for (const [lang, expected] of Object.entries(row) as [Lang, string | typeof ERR][]) {
      if (expected === ERR) assert.throws(() => lit(lang, value), ParameterError, lang);
      else assert.equal(lit(lang, value), expected, lang);
    }
  });
}

test('assignment and comment forms, one line each ending in a newline', () => {
  const expected: Record<Lang, string> = {
    python: '# Parameters\nx = 1\n', R: '# Parameters\nx = 1\n', scala: '// Parameters\nval x = 1\n', julia: '# Parameters\nx = 1\n',
    matlab: '% Parameters\nx = 1;\n', csharp: '// Parameters\nvar x = 1;\n', fsharp: '(* Parameters *)\nlet x = 1\n',
    powershell: '# Parameters\n$x = 1\n', bash: '# Parameters\nx=1\n',
  };
  for (const [lang, text] of Object.entries(expected) as [Lang, string][]) {
    assert.equal(renderParametersCell({ x: 1 }, getTranslator(KERNELS[lang], undefined)), text, lang);
  }
  assert.equal(renderParametersCell({ __x: 1, y: 'b' }, getTranslator('ir', 'R')), '# Parameters\nx = 1\ny = "b"\n');
});

test('translators are chosen by kernel name first, then language', () => {
  assert.equal(getTranslator('python3', 'python').name, 'python');
  assert.equal(getTranslator('pysparkkernel', undefined).name, 'python');
  assert.equal(getTranslator('sparkrkernel', undefined).name, 'R');
  assert.equal(getTranslator('ir', 'R').name, 'R');
  assert.equal(getTranslator('my-r', 'R').name, 'R');
  assert.equal(getTranslator('sparkkernel', 'python').name, 'scala');
  assert.equal(getTranslator('bash', 'python').name, 'bash');
  assert.equal(getTranslator('julia-1.9', 'julia').name, 'julia');
  assert.throws(() => getTranslator('cobol-kernel', 'cobol'), (e: Error) => {
    assert.ok(e instanceof UnsupportedLanguageError);
    assert.match(e.message, /kernel 'cobol-kernel'.*language 'cobol'/);
    return true;
  });
});

test('floats render so they read back as the same double, and stay floats', () => {
  assert.equal(pythonLiteral(new PyFloat(1)), '1.0');
  assert.equal(pythonLiteral(new PyFloat(1000)), '1000.0');
  assert.equal(pythonLiteral(1.5), '1.5');
  assert.equal(pythonLiteral(new PyFloat(1e16)), '1e+16');
  assert.equal(pythonLiteral(0.1 + 0.2), '0.30000000000000004');
  assert.equal(pythonLiteral(1e-7), '1e-07');
  assert.equal(pythonLiteral(12345678901234567890n), '12345678901234567890');
  const nonFinite = (lang: Lang) => [NaN, Infinity, -Infinity].map((v) => lit(lang, new PyFloat(v))).join(' ');
  assert.equal(nonFinite('python'), "float('nan') float('inf') float('-inf')");
  assert.equal(nonFinite('R'), 'NaN Inf -Inf');
  assert.equal(nonFinite('julia'), 'NaN Inf -Inf');
  assert.equal(nonFinite('matlab'), 'NaN Inf -Inf');
  assert.equal(nonFinite('scala'), 'Double.NaN Double.PositiveInfinity Double.NegativeInfinity');
  assert.equal(nonFinite('csharp'), 'double.NaN double.PositiveInfinity double.NegativeInfinity');
  assert.equal(nonFinite('fsharp'), 'nan infinity -infinity');
  assert.equal(nonFinite('powershell'), '[double]::NaN [double]::PositiveInfinity [double]::NegativeInfinity');
  assert.equal(lit('scala', -3000000000), '-3000000000L');
  assert.equal(lit('scala', 2147483647), '2147483647');
});

test('string escapes per language (non-ASCII, controls, quotes, interpolation)', () => {
  const s = 'é\n😀$`"\\\t\r\u2028\x00';
  assert.equal(lit('python', s), '"é\\n😀$`\\"\\\\\\t\\r\\u2028\\x00"');
  assert.equal(lit('julia', s), '"é\\n😀\\$`\\"\\\\\\t\\r\\u2028\\u0000"');
  assert.equal(lit('scala', s), '"é\\n😀$`\\"\\\\\\t\\r\\u2028\\u0000"');
  assert.equal(lit('csharp', s), '"é\\n😀$`\\"\\\\\\t\\r\\u2028\\0"');
  assert.equal(lit('fsharp', s), '"é\\n😀$`\\"\\\\\\t\\r\\u2028\\u0000"');
  assert.equal(lit('powershell', s), '"é`n😀`$```"\\`t`r`u{2028}`0"');
  assert.equal(lit('powershell', '“a” „b”'), '"`“a`” `„b`”"');
  assert.equal(lit('matlab', 'a\nb'), '("a" + char(10) + "b")');
  assert.equal(lit('matlab', '😀'), '("" + char([55357 56832]))');
  assert.equal(lit('matlab', ''), '""');
  assert.equal(getTranslator('matlab', undefined).translate({ "it's\n": 1 }), "containers.Map({['it''s' char(10)]}, {1})");
  assert.equal(lit('R', 'é😀\x01'), '"\\u{00E9}\\U{0001F600}\\u{0001}"');
  assert.equal(lit('bash', 'abc/d.e'), 'abc/d.e');
  assert.equal(lit('bash', ''), "''");
  assert.equal(lit('bash', "it's"), "'it'\\''s'");
  assert.equal(lit('bash', 'é\n'), "$'\\xC3\\xA9\\x0A'");
});

test('NUL is refused where the language cannot hold it; lone surrogates everywhere', () => {
  assert.throws(() => rLiteral('a\x00b'), { name: 'ParameterError', message: 'R strings cannot contain NUL' });
  assert.throws(() => lit('bash', 'a\x00b'), /bash strings cannot contain NUL/);
  for (const lang of Object.keys(KERNELS) as Lang[]) {
    assert.throws(() => lit(lang, 'a\ud800b'), /lone surrogate U\+D800/, lang);
    assert.throws(() => lit(lang, '\udc00'), ParameterError, lang);
    assert.throws(
      () => renderParametersCell({ p: ['\ud83d'] }, getTranslator(KERNELS[lang], undefined)),
      /Parameter 'p': string contains a lone surrogate/,
      lang,
    );
  }
});

test('parameter names that are not identifiers are refused, never pasted as code', () => {
  for (const lang of Object.keys(KERNELS) as Lang[]) {
    const t = getTranslator(KERNELS[lang], undefined);
    for (const bad of ['x-y', 'x;import os', 'a b', '1x', 'x=1\ny', '']) {
      assert.throws(() => renderParametersCell({ [bad]: 1 }, t), /is not a valid .* identifier/, `${lang} ${JSON.stringify(bad)}`);
    }
  }
  assert.equal(renderParametersCell({ été: 1 }, getTranslator('python', undefined)), '# Parameters\nété = 1\n');
});

// --- Round trips through real interpreters: a string parameter can never become code. ---

const work = mkdtempSync(join(tmpdir(), 'hubmill-hostile-'));
const CANARY = join(work, 'pwned');
const HOSTILE: string[] = hostileStrings(CANARY);
const WITH_NUL = [...HOSTILE, '\x00', 'a\x00b'];

function run(cmd: string, args: string[], input: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(r.status, 0, `${cmd} failed: ${r.stderr}`);
  return r.stdout;
}

const hasPython = existsSync('/usr/bin/python3');
test('hostile strings round-trip exactly through a real Python', { skip: !hasPython && 'no /usr/bin/python3' }, () => {
  const cell = renderParametersCell({ vals: WITH_NUL, d: Object.fromEntries(WITH_NUL.map((s, i) => [s, i])) }, getTranslator('python3', 'python'));
  const out = run('/usr/bin/python3', ['-'], `${cell}import json, sys\nsys.stdout.write(json.dumps([vals, list(d.items())]))\n`);
  assert.deepEqual(JSON.parse(out), [WITH_NUL, WITH_NUL.map((s, i) => [s, i])]);
  assert.equal(existsSync(CANARY), false);
});

const hasBash = spawnSync('bash', ['-c', 'true']).status === 0;
test('hostile strings round-trip exactly through bash (byte for byte)', { skip: !hasBash && 'no bash' }, () => {
  const t = getTranslator('bash', 'bash');
  let script = renderParametersCell(Object.fromEntries(HOSTILE.map((s, i) => [`v${i}`, s])), t);
  script += renderParametersCell({ arr: HOSTILE.filter((s) => s !== '') }, t);
  for (let i = 0; i < HOSTILE.length; i++) script += `printf '%s' "$v${i}" | base64 -w0; echo\n`;
  script += 'for a in "${arr[@]}"; do printf \'%s\' "$a" | base64 -w0; echo; done\n';
  const lines = run('bash', ['-s'], script, { ...process.env, LC_ALL: 'C' }).split('\n');
  const expected = [...HOSTILE, ...HOSTILE.filter((s) => s !== '')].map((s) => Buffer.from(s, 'utf8').toString('base64'));
  assert.deepEqual(lines.slice(0, expected.length), expected);
  assert.equal(existsSync(CANARY), false);
});

const hasR = spawnSync('Rscript', ['--version']).status === 0;
for (const locale of ['C.UTF-8', 'C']) {
  test(`hostile strings round-trip exactly through R (LC_ALL=${locale})`, { skip: !hasR && 'no Rscript' }, () => {
    const cell = renderParametersCell({ vals: HOSTILE, d: Object.fromEntries(HOSTILE.filter((s) => s !== '').map((s, i) => [s, i])) }, getTranslator('ir', 'R'));
    const program = `${cell}for (s in vals) cat(paste(utf8ToInt(enc2utf8(s)), collapse = ","), "\\n", sep = "")\nfor (s in names(d)) cat(paste(utf8ToInt(enc2utf8(s)), collapse = ","), "\\n", sep = "")\n`;
    const file = join(work, `params-${locale}.R`);
    spawnSync('bash', ['-c', 'cat > "$1"', '_', file], { input: program });
    const lines = run('Rscript', [file], '', { ...process.env, LC_ALL: locale, LANG: locale }).split('\n');
    // R turns list names into native-encoding symbols: in a C locale it mangles non-ASCII names
    // itself (`<U+00E9>`), so names are only compared in a UTF-8 locale. Values are locale-proof.
    const keys = locale === 'C' ? [] : HOSTILE.filter((s) => s !== '');
    const expected = [...HOSTILE, ...keys].map((s) => [...s].map((c) => c.codePointAt(0)).join(','));
    assert.deepEqual(lines.slice(0, expected.length), expected);
    assert.equal(existsSync(CANARY), false);
  });
}

test('floats and big ints read back exactly in a real Python, with their types', { skip: !hasPython && 'no /usr/bin/python3' }, () => {
  const floats = [new PyFloat(1), 0.1 + 0.2, 1e-7, new PyFloat(1e16), 5e-324, 1.7976931348623157e308, new PyFloat(-0), 123456.789];
  const cell = renderParametersCell({ fs: floats, big: 12345678901234567890n, i: -7 }, getTranslator('python', 'python'));
  const out = run('/usr/bin/python3', ['-'], `${cell}import json\nprint(json.dumps([[x.hex() for x in fs], [type(x).__name__ for x in fs], str(big), type(i).__name__]))\n`);
  const [hexes, types, big, itype] = JSON.parse(out) as [string[], string[], string, string];
  assert.deepEqual(types, floats.map(() => 'float'));
  assert.equal(big, '12345678901234567890');
  assert.equal(itype, 'int');
  const back = hexes.map((h) => run('/usr/bin/python3', ['-c', `import sys; print(repr(float.fromhex(sys.argv[1])))`, h], '').trim());
  assert.deepEqual(back, floats.map((f) => pythonLiteral(f)));
});
