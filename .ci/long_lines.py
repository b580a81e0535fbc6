#!/usr/bin/env python3
"""Lists every exported line over 120 characters (a line holding a URL excepted) with the notebook cell it comes from,
and every such line of the scripts in `.ci/` and `bench/`; exits 1 if there is one.
What nbdev writes itself is not code from a notebook and is not read: `_modidx.py` (its index) and the first line of
each module's `__all__` (nbdev wraps the list at 120 characters, then puts `__all__ = ` in front of it: nbdev/maker.py,
`TextWrapper(width=120)`).
Usage: python .ci/long_lines.py [FILE ...]   (default: every module of ct_classifier/, then the scripts)"""
import re, sys
from pathlib import Path

LIMIT = 120
root = Path(__file__).resolve().parent.parent
package = root/'ct_classifier'

def long_lines(path: Path) -> list[str]:
    "One line per line of `path` over LIMIT characters: file:line (the notebook cell, for a module): length."
    found, cell, module = [], '?', path.parent.name == package.name
    for number, line in enumerate(path.read_text().splitlines(), 1):
        marker = re.match(r'# %% (\S+\.ipynb) #?(\S+)', line)
        if marker: cell = f'{Path(marker[1]).name}, cell id {marker[2]}'
        generated = line.startswith('__all__ = ') and module
        if len(line) > LIMIT and not generated and not re.search(r'https?://', line):
            shown = path.relative_to(root) if path.is_relative_to(root) else path
            where = f'{path.name}:{number} ({cell})' if module else f'{shown}:{number}'
            found.append(f'{where}: {len(line)} characters')
    return found

if __name__ == '__main__':
    modules = [p for p in sorted(package.glob('*.py')) if p.name != '_modidx.py']
    in_folders = [p for folder in ('.ci', 'bench') for p in (root/folder).iterdir() if p.is_file()]
    scripts = sorted(p for p in in_folders if p.suffix in ('', '.py', '.sh'))
    paths = [Path(a).resolve() for a in sys.argv[1:]] or modules + scripts
    missing = [str(p) for p in paths if not p.is_file()]
    if missing: sys.exit(f'{missing[0]}: not a file; expected a module or a script to check')
    found = [f for p in paths for f in long_lines(p)]
    print(*found, sep='\n') if found else None
    print(f'{len(found)} lines over {LIMIT} characters in {len(paths)} files (modules and scripts)')
    sys.exit(1 if found else 0)
