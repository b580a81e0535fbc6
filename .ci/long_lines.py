#!/usr/bin/env python3
"""Lists every exported line over 120 characters (a line holding a URL excepted) with the notebook cell it comes from;
exits 1 if there is one. What nbdev writes itself is not code from a notebook and is not read: `_modidx.py` (its
index) and the first line of each module's `__all__` (nbdev wraps the list at 120 characters, then puts `__all__ = `
in front of it: nbdev/maker.py, `TextWrapper(width=120)`).
Usage: python .ci/long_lines.py [MODULE.py ...]   (default: every module of ct_classifier/)"""
import re, sys
from pathlib import Path

LIMIT = 120
package = Path(__file__).resolve().parent.parent/'ct_classifier'

def long_lines(path: Path) -> list[str]:
    "One line per exported line of `path` over LIMIT characters: module:line (notebook cell): length."
    found, cell = [], '?'
    for number, line in enumerate(path.read_text().splitlines(), 1):
        marker = re.match(r'# %% (\S+\.ipynb) #?(\S+)', line)
        if marker: cell = f'{Path(marker[1]).name}, cell id {marker[2]}'
        generated = line.startswith('__all__ = ')
        if len(line) > LIMIT and not generated and not re.search(r'https?://', line):
            found.append(f'{path.name}:{number} ({cell}): {len(line)} characters')
    return found

if __name__ == '__main__':
    paths = [Path(p) for p in sys.argv[1:]] or [p for p in sorted(package.glob('*.py')) if p.name != '_modidx.py']
    found = [f for p in paths for f in long_lines(p)]
    print(*found, sep='\n') if found else None
    print(f'{len(found)} exported lines over {LIMIT} characters in {len(paths)} modules')
    sys.exit(1 if found else 0)
