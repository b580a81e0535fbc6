#!/usr/bin/env python
"""Execute every notebook top to bottom in a real Jupyter kernel (nbclient), as a user's JupyterLab would.

`nbdev_test` runs the cells in an in-process IPython shell; this runs them in a separate `ipykernel` process, so
what only a real kernel does is exercised too: the inline matplotlib backend, rich displays, ipywidgets, fastprogress's
notebook bars and live plots. Cells are skipped exactly as `nbdev_test` skips them: a cell that calls `nbdev_export(`
(it would rewrite the package while other notebooks import it), a `#| eval: false` cell, a cell flagged with one of
`settings.ini`'s `tst_flags` (`slow`, `gpu`) unless `--flags` names it, a notebook whose front matter says
`skip_exec: true`. The run fails if a package file changed while the notebooks ran.

Besides "no cell raised", it checks what a reader of the docs sees: every visible (not `#| hide`) cell that calls a
plotting function (`show_slices`, `slice_viewer`, `plot_*`, `plt.`) must display a figure (image/png) or a widget.

Usage: python .ci/run_kernels.py [--flags "slow gpu"] [--workers 2] [--timeout 480] [--exclude NAME,NAME] [NOTEBOOK ...]
Prints one line per notebook and ends with "N passed, N failed"; exits 1 if any notebook failed.
"""
import argparse, configparser, re, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
WIDGET = 'application/vnd.jupyter.widget-view+json'


def directives(src: str) -> dict:
    "The `#| name: value` / `#| flag` lines at the top of a cell, as {name: value}."
    out = {}
    for line in src.splitlines():
        if not line.startswith('#|'):
            if line.strip(): break
            continue
        body = line[2:].strip()
        if ':' in body.split()[0] if body else False:
            k, _, v = body.partition(':'); out[k.strip()] = v.strip()
        else:
            for w in body.split(): out[w] = ''
    return out


def front_matter(nb) -> dict:
    "The notebook's front matter keys from a raw `---` cell or the first markdown cell's `key: value` lines."
    for c in nb.cells[:3]:
        if c.cell_type == 'raw' and c.source.startswith('---'):
            return dict(l.split(':', 1) for l in c.source.splitlines()[1:] if ':' in l)
    return {}


def prepare(path: Path, flags: set, tst_flags: set):
    "The notebook to run (skipped cells removed) and how many were skipped; None if the notebook is skip_exec."
    nb = nbformat.read(path, as_version=4)
    if front_matter(nb).get('skip_exec', '').strip().lower() == 'true': return None, 0
    keep, skipped = [], 0
    for c in nb.cells:
        if c.cell_type == 'code':
            d = directives(c.source)
            exports = 'nbdev_export' + '(' in c.source # nbdev_test's rule, split as nbdev writes it
            if exports or d.get('eval', '').lower() == 'false' or (set(d) & tst_flags) - flags:
                skipped += 1; continue
        keep.append(c)
    nb.cells = keep
    return nb, skipped


def _plot_calls(src: str) -> set:
    "Names of the plotting functions that a cell calls at its top level (not inside a def or class)."
    import ast
    try: tree = ast.parse('\n'.join('' if l.lstrip().startswith(('%', '!')) else l for l in src.splitlines()))
    except SyntaxError: return set()
    names = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): continue
        for n in ast.walk(stmt):
            if isinstance(n, ast.Call):
                f = n.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ''
                owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ''
                draws = name == 'show_slices' or name.startswith('plot_')
                if draws or (owner == 'plt' and name in ('subplots', 'figure')): names.add(name)
                if owner == 'plt' and name == 'close': names.add('close')
    last = tree.body[-1] if tree.body else None # a viewer shows itself only as the cell's value
    shown = isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) # a call whose value the cell displays
    if shown and getattr(last.value.func, 'id', '') == 'slice_viewer': names.add('slice_viewer')
    return names


def check_displays(nb) -> list:
    "Visible cells that draw (at their top level, without closing the figure) but displayed no figure or widget."
    bad = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != 'code' or {'hide', 'export', 'exports', 'exporti'} & set(directives(c.source)): continue
        calls = _plot_calls(c.source)
        if not calls or 'close' in calls: continue
        data = [o.get('data', {}) for o in c.get('outputs', [])]
        if 'slice_viewer' in calls and not any(WIDGET in d for d in data):
            bad.append(f'cell {i} shows a slice viewer, but no widget was displayed')
        if calls - {'slice_viewer'} and not any('image/png' in d for d in data):
            bad.append(f'cell {i} draws ({", ".join(sorted(calls - {"slice_viewer"}))}) but displayed no figure')
    return bad


def execute(path: Path, flags: set, tst_flags: set, timeout: int):
    "Run one notebook in a fresh kernel: (the executed notebook, cells skipped), or raise nbclient's error."
    nb, skipped = prepare(path, flags, tst_flags)
    if nb is None: return None, 0
    where = {'metadata': {'path': str(path.parent)}}
    NotebookClient(nb, timeout=timeout, kernel_name='python3', resources=where).execute()
    return nb, skipped


def run(path: Path, flags: set, tst_flags: set, timeout: int) -> tuple:
    """(ok, one-line report) for one notebook.
    A cell that times out or a kernel that dies gets one more try in a new kernel, said in the report."""
    t0, note = time.time(), ''
    for attempt in (1, 2):
        try: nb, skipped = execute(path, flags, tst_flags, timeout); break
        except (CellTimeoutError, DeadKernelError) as e:
            why = f'{type(e).__name__}: {str(e).strip()[-300:]}'
            if attempt == 2: return False, f'{path.name}: FAILED twice after {time.time() - t0:.0f} s: {why}'
            note = f' (retried once after {type(e).__name__})'
        except CellExecutionError as e:
            msg = str(e).strip().splitlines()
            last_lines = ' | '.join(l for l in msg[-6:] if l.strip())[:1500]
            return False, f'{path.name}: FAILED after {time.time() - t0:.0f} s: {last_lines}'
    if nb is None: return True, f'{path.name}: skipped (skip_exec)'
    outs = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', [])]
    images = sum('image/png' in o.get('data', {}) for o in outs)
    widgets = sum(WIDGET in o.get('data', {}) for o in outs)
    bad = check_displays(nb)
    n = sum(c.cell_type == 'code' for c in nb.cells)
    counts = f'{n} cells run, {skipped} skipped, {images} figures, {widgets} widgets'
    line = f'{path.name}: {counts}, {time.time() - t0:.0f} s{note}'
    if bad: return False, f'{line}: FAILED: ' + '; '.join(bad)
    return True, line


def package_files() -> dict:
    "Each file of the package → (size, modification time in ns): what a notebook that rewrote it would change."
    stats = {p.name: p.stat() for p in sorted((ROOT/'ct_classifier').glob('*.py'))}
    return {name: (s.st_size, s.st_mtime_ns) for name, s in stats.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*',
                    help='notebooks to run (default: every notebook in nbs/ not starting with _ or .)')
    ap.add_argument('--flags', default='', help='tst_flags to run too, e.g. "slow gpu" (default: none, as nbdev_test)')
    ap.add_argument('--workers', type=int, default=2, help='notebooks run at once (default: 2)')
    ap.add_argument('--timeout', type=int, default=480,
                    help='seconds one cell may take before the notebook is retried once in a new kernel (default: 480)')
    ap.add_argument('--exclude', default='',
                    help='notebook names not to run here, comma-separated '
                         '(e.g. those the browser test ran in a real kernel)')
    a = ap.parse_args()
    ini = configparser.ConfigParser(); ini.read(ROOT/'settings.ini')
    tst_flags = set(ini['DEFAULT'].get('tst_flags', '').split())
    every = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))
    nbs = [Path(p).resolve() for p in a.notebooks] or every
    for p in [p for p in nbs if p.name in a.exclude.split(',')]:
        print(f'skip {p.name}: run in a real kernel by the browser test'); nbs.remove(p)
    t0, results, before = time.time(), [], package_files()
    with ThreadPoolExecutor(a.workers) as ex:
        for ok, line in ex.map(lambda p: run(p, set(a.flags.split()), tst_flags, a.timeout), nbs):
            print(('ok   ' if ok else 'FAIL ') + line, flush=True); results.append(ok)
    after = package_files()
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    if changed: # a notebook rewrote the package under the others: their imports may have read half a file
        print(f"FAIL ct_classifier: {len(changed)} files rewritten while the notebooks ran: {', '.join(changed[:5])}")
        results.append(False)
    failed = results.count(False)
    print(f'real kernel: {len(results) - failed} passed, {failed} failed in {time.time() - t0:.0f} s')
    sys.exit(1 if failed else 0)


if __name__ == '__main__': main()
