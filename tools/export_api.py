#!/usr/bin/env python3
"""Marks the public API of libinfoflow in include/infoflow/*.h: every function declared at file
scope gets IFLOW_API (include/infoflow/api.h: default visibility; the library is compiled with
-fvisibility=hidden, so nothing else is exported), and every header gets extern "C" guards.
Idempotent: `tools/export_api.py --check` exits 1, naming the lines, if a header needs it.
Run it after adding a public function; CI runs the check."""
import pathlib, re, sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DECL = re.compile(r'^(?!typedef|static|extern|return|#|/|\*| |\t|})'
                  r'(?:const\s+)?(?:unsigned\s+)?(?:struct\s+)?[A-Za-z_][A-Za-z0-9_]*[\s*]+'
                  r'(iflow_[A-Za-z0-9_]+)\s*\(')
OPEN = '#ifdef __cplusplus\nextern "C" {\n#endif\n'
CLOSE = '#ifdef __cplusplus\n}\n#endif\n'


def fix(text):
    lines = text.split('\n')
    out, changed = [], []
    for i, line in enumerate(lines):
        if DECL.match(line) and not line.startswith('IFLOW_API '):
            line = 'IFLOW_API ' + line
            changed.append(i + 1)
        out.append(line)
    text = '\n'.join(out)
    if '#include "infoflow/api.h"' not in text:
        m = re.search(r'#define IFLOW_[A-Z0-9_]+_H\n', text)
        text = text[:m.end()] + '\n#include "infoflow/api.h"\n' + text[m.end():]
        changed.append('api.h include')
    if 'extern "C"' not in text:
        incs = list(re.finditer(r'#include [<"][^>"]+[>"]\n', text))
        at = incs[-1].end()
        text = text[:at] + '\n' + OPEN + text[at:]
        end = text.rstrip().rfind('#endif')
        text = text[:end] + CLOSE + '\n' + text[end:]
        changed.append('extern "C"')
    return text, changed


def main():
    check = '--check' in sys.argv
    bad = 0
    for h in sorted((ROOT / 'include' / 'infoflow').glob('*.h')):
        if h.name == 'api.h':
            continue
        text, changed = fix(h.read_text())
        if changed:
            bad = 1
            if check:
                print(f'{h.relative_to(ROOT)}: needs IFLOW_API/extern "C" at {changed}')
            else:
                h.write_text(text)
    if check and bad:
        print('run tools/export_api.py to mark them')
    return bad if check else 0


sys.exit(main())
