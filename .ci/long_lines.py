#!/usr/bin/env python3
"""Lists every exported line over 120 characters (a line holding a URL excepted) with the notebook cell it comes from;
exits 1 if there is one. `_modidx.py` is nbdev's generated index, not code from a notebook, and is not read.
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
        if len(line) > LIMIT and not re.search(r'https?://', line):
            found.append(f'{path.name}:{number} ({cell}): {len(line)} characters')
    return found

if __name__ == '__main__':
    paths = [Path(p) for p in sys.argv[1:]] or [p for p in sorted(package.glob('*.py')) if p.name != '_modidx.py']
    found = [f for p in paths for f in long_lines(p)]
    print(*found, sep='\n') if found else None
    print(f'{len(found)} exported lines over {LIMIT} characters in {len(paths)} modules')
    sys.exit(1 if found else 0)
