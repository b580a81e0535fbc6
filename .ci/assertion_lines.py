#!/usr/bin/env python3
"""Compares the test assertions of two checkouts: every line of a non-export code cell in nbs/*.ipynb that calls a
`test_*` function or `assert`, white space folded. Prints the counts and each line of the first that the second no
longer has (changed or removed): what a change that should keep every assertion has to account for.
Usage: python .ci/assertion_lines.py OLD_CHECKOUT [NEW_CHECKOUT (default: this one)]
(an old checkout: `git worktree add /tmp/old REV`)"""
import json, re, sys
from collections import Counter
from pathlib import Path

def assertion_lines(root) -> Counter:
    "Each assertion line of the notebooks under `root`/nbs, with how often it stands there."
    found = Counter()
    for path in sorted(Path(root, 'nbs').glob('*.ipynb')):
        for cell in json.loads(path.read_text())['cells']:
            source = ''.join(cell['source'])
            if cell['cell_type'] != 'code' or source.startswith('#| export'): continue
            for line in source.splitlines():
                if re.search(r'\b(test_\w+|assert)\b', line): found[re.sub(r'\s+', ' ', line.strip())] += 1
    return found

if __name__ == '__main__':
    if len(sys.argv) < 2: sys.exit(__doc__)
    old = assertion_lines(sys.argv[1])
    new = assertion_lines(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).resolve().parent.parent)
    gone = old - new
    print(f'{sum(old.values())} assertion lines before, {sum(new.values())} after; '
          f'{sum(gone.values())} of the old ones changed or removed:')
    for line in gone: print('-', line[:200])
