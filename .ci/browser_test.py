#!/usr/bin/env python
"""Run notebooks in JupyterLab, driven by a real browser, as a user does: open, Run All, look at what shows.

JupyterLab (the dev extra's) starts from this interpreter on a free local port with a token, in a copy of `nbs/`, and
with a PATH that lacks this environment's `bin` (a kernel started from a JupyterLab that was not activated: the
notebooks must reach the console scripts through the interpreter). Chromium (Debian's package; Playwright's own
browser download is not used) opens each notebook, runs all its cells and waits for the kernel to be idle. Cells are
skipped exactly as `nbdev_test` and `run_kernels.py` skip them (`#| eval: false`, `tst_flags`, `skip_exec`).

A notebook fails when a cell shows an error output, when a visible plotting cell displayed no figure or widget (the
check of `run_kernels.py`), and for the chapters that have them: `03d_viewer`'s first viewer must render an image
and redraw it when its axial slider moves; `06b_experiment`'s live training plot must appear. A screenshot of each
notebook (and of the viewer and the live plot) is saved under --out.

Usage: python .ci/browser_test.py --out DIR [--chromium /usr/bin/chromium] [NOTEBOOK ...]
(default notebooks: 03d_viewer, 02_sampling, 06b_experiment; a path elsewhere replaces the chapter of its name).
Prints one line per notebook, ends with "browser: N passed, N failed"; exit 0, 1 if any failed, 3 if it cannot run
(no Chromium, no Playwright): one line saying why.
"""
import argparse, configparser, json, os, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_kernels import check_displays, prepare # the same cells skipped, the same display check

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ['03d_viewer.ipynb', '02_sampling.ipynb', '06b_experiment.ipynb']
LIVE_PLOT_MARK = 'progress=True' # 06b: the cell that trains with the live plot


def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def start_lab(root: Path, port: int, token: str, log):
    "JupyterLab on 127.0.0.1:port serving `root`, settings and workspaces in `root/.lab`, PATH without this venv's bin."
    bin_dir = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get('PATH', '').split(os.pathsep) if p and p != bin_dir)
    env = {**os.environ, 'PATH': path,
           'JUPYTER_CONFIG_DIR': str(root/'.lab/config'), 'JUPYTER_RUNTIME_DIR': str(root/'.lab/runtime')}
    env.pop('VIRTUAL_ENV', None)
    settings = root/'.lab/settings'
    for ext, values in {'@jupyterlab/notebook-extension/tracker': {'windowingMode': 'none'}, # every cell in the page
                        '@jupyterlab/docmanager-extension/plugin': {'autosave': False},
                        '@jupyterlab/apputils-extension/notification': {'checkForUpdates': False,
                                                                        'fetchNews': 'false'}}.items():
        pkg, name = ext.rsplit('/', 1)
        (settings/pkg).mkdir(parents=True, exist_ok=True)
        (settings/pkg/f'{name}.jupyterlab-settings').write_text(json.dumps(values))
    argv = [sys.executable, '-m', 'jupyterlab', '--no-browser', f'--port={port}', '--ServerApp.ip=127.0.0.1',
            f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}', '--LabApp.expose_app_in_browser=True',
            f'--LabApp.user_settings_dir={settings}', f'--LabApp.workspaces_dir={root/".lab/workspaces"}',
            '--ServerApp.port_retries=0'] + (['--allow-root'] if hasattr(os, 'geteuid') and os.geteuid() == 0 else [])
    lab = subprocess.Popen(argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    t0 = time.time()
    while time.time() - t0 < 120:
        if lab.poll() is not None:
            raise RuntimeError(f'JupyterLab ended (exit status {lab.returncode}); see {log.name}')
        try:
            with urllib.request.urlopen(f'http://127.0.0.1:{port}/api/status?token={token}', timeout=2): return lab
        except OSError: time.sleep(0.5)
    lab.kill(); raise RuntimeError(f'JupyterLab did not answer within 120 s; see {log.name}')


RUN_ALL = """async (path) => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready; await panel.sessionContext.ready;
  app.shell.activateById(panel.id);
  window._ctc_panel = panel;
  await app.commands.execute('notebook:run-all-cells');
  return panel.content.widgets.length;
}"""

STATE = """() => {
  const panel = window._ctc_panel, kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const prompt = c => c.node.querySelector('.jp-InputPrompt');
  const pending = cells.filter(c => prompt(c) && prompt(c).textContent.includes('*')).length;
  return {status: kernel ? kernel.status : 'none', pending};
}"""

MODEL = "() => window._ctc_panel.context.model.toJSON()"

CLOSE = """async () => {
  const panel = window._ctc_panel;
  await panel.sessionContext.shutdown();
  panel.context.model.dirty = false; panel.dispose();
}"""


def wait_idle(page, timeout: float):
    "Wait until no cell is queued or running and the kernel has been idle for 2 s; False on timeout or a dead kernel."
    t0, idle_since = time.time(), None
    while time.time() - t0 < timeout:
        s = page.evaluate(STATE)
        if s['status'] in ('dead', 'none') and time.time() - t0 > 30: return False
        if s['status'] == 'idle' and s['pending'] == 0:
            idle_since = idle_since or time.time()
            if time.time() - idle_since > 2: return True
        else: idle_since = None
        time.sleep(0.5)
    return False


def errors_shown(nb) -> list:
    "One line per code cell that shows an error output: its index and the error's name and value."
    out = []
    for i, c in enumerate(nb.cells):
        for o in c.get('outputs', []) if c.cell_type == 'code' else []:
            if o.get('output_type') == 'error': out.append(f"cell {i}: {o.get('ename')}: {str(o.get('evalue'))[:200]}")
    return out


def check_viewer(page, shots: Path, stem: str) -> list:
    "The first viewer: it shows an image, and moving its axial slider draws another one. Problems, as lines."
    viewer = page.locator('.jp-Notebook .widget-interact').first
    try: viewer.wait_for(state='visible', timeout=30_000)
    except Exception: return ['no slice viewer was rendered']
    viewer.scroll_into_view_if_needed()
    img = viewer.locator('img').first
    try: img.wait_for(state='visible', timeout=30_000)
    except Exception: return ['the slice viewer shows no image']
    before = img.get_attribute('src')
    viewer.screenshot(path=str(shots/f'{stem}_viewer_before.png'))
    slider = viewer.locator('.widget-slider', has_text='axial').first
    if slider.count() == 0: return ['the slice viewer has no axial slider']
    value = lambda: slider.locator('.widget-readout').inner_text().strip()
    v0 = value()
    slider.locator('.noUi-handle').first.focus()
    for _ in range(3): page.keyboard.press('ArrowRight')
    t0 = time.time()
    while time.time() - t0 < 30:
        src = viewer.locator('img').first.get_attribute('src') if viewer.locator('img').count() else None
        if src and src != before: break
        time.sleep(0.25)
    else:
        return [f'moving the axial slider ({v0} → {value()}) did not redraw the image']
    wait_idle(page, 60) # the last of the redraws
    viewer.screenshot(path=str(shots/f'{stem}_viewer_after.png'))
    if value() == v0: return [f'the axial slider did not move from {v0}']
    return []


def check_live_plot(page, shots: Path, stem: str) -> list:
    "The cell that trains with `progress=True` shows the live plot (an image) in its output."
    cell = page.locator('.jp-CodeCell', has=page.locator('.jp-InputArea', has_text=LIVE_PLOT_MARK)).first
    if cell.count() == 0: return [f'no cell trains with {LIVE_PLOT_MARK} (the live plot)']
    cell.scroll_into_view_if_needed()
    if cell.locator('.jp-OutputArea-output img').count() == 0: return ['the training cell shows no live plot']
    cell.screenshot(path=str(shots/f'{stem}_live_plot.png'))
    return []


def run_notebook(page, base: str, name: str, shots: Path, timeout: float) -> tuple:
    "(ok, one-line report) for one notebook, run all in the browser."
    t0, stem = time.time(), Path(name).stem
    page.goto(f'{base}/lab?reset', wait_until='domcontentloaded')
    ready = '() => window.jupyterapp && window.jupyterapp.commands.hasCommand("notebook:run-all-cells")'
    page.wait_for_function(ready, timeout=120_000)
    page.evaluate(RUN_ALL, f'nbs/{name}')
    finished = wait_idle(page, timeout)
    nb = nbformat.from_dict(page.evaluate(MODEL))
    page.screenshot(path=str(shots/f'{stem}.png'))
    problems = [] if finished else [f'still running (or the kernel died) after {timeout:.0f} s']
    problems += errors_shown(nb) + check_displays(nb)
    if finished and stem == '03d_viewer': problems += check_viewer(page, shots, stem)
    if finished and stem == '06b_experiment': problems += check_live_plot(page, shots, stem)
    page.screenshot(path=str(shots/f'{stem}.png'))
    n = sum(c.cell_type == 'code' for c in nb.cells)
    outputs = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', [])]
    images = sum('image/png' in o.get('data', {}) for o in outputs)
    line = f'{name}: {n} cells run in JupyterLab, {images} figures, {time.time() - t0:.0f} s'
    return (False, f'{line}: FAILED: ' + '; '.join(problems)) if problems else (True, line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', help='notebooks (default: 03d_viewer, 02_sampling, 06b_experiment in nbs/)')
    ap.add_argument('--out', required=True, help='folder for the screenshots and the JupyterLab log')
    ap.add_argument('--chromium', default=shutil.which('chromium') or '/usr/bin/chromium', help='the Chromium to drive')
    ap.add_argument('--timeout', type=float, default=600, help='seconds one notebook may run (default: 600)')
    a = ap.parse_args()
    if not Path(a.chromium).is_file(): print(f'browser test skipped: no Chromium at {a.chromium}'); sys.exit(3)
    try: from playwright.sync_api import sync_playwright
    except ImportError: print('browser test skipped: playwright is not installed (pip install playwright)'); sys.exit(3)
    shots = Path(a.out); shots.mkdir(parents=True, exist_ok=True)
    ini = configparser.ConfigParser(); ini.read(ROOT/'settings.ini')
    tst_flags = set(ini['DEFAULT'].get('tst_flags', '').split())
    paths = [Path(p).resolve() if os.sep in p else ROOT/'nbs'/p for p in (a.notebooks or DEFAULT)]
    work = Path(tempfile.mkdtemp(prefix='ctc_lab_'))
    results, lab, t0 = [], None, time.time()
    try:
        shutil.copytree(ROOT/'nbs', work/'nbs', ignore=shutil.ignore_patterns('_docs', '.ipynb_checkpoints'))
        for f in ('configs', 'settings.ini', 'README.md'): (work/f).symlink_to(ROOT/f)
        for p in paths: # the notebook as nbdev_test runs it: skipped cells removed
            nb, _ = prepare(p, set(), tst_flags)
            nbformat.write(nb if nb is not None else nbformat.read(p, as_version=4), work/'nbs'/p.name)
        port, token = free_port(), secrets.token_hex(16)
        log = open(shots/'jupyterlab.log', 'w')
        lab = start_lab(work, port, token, log)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=a.chromium, args=['--no-sandbox', '--disable-dev-shm-usage'])
            page = browser.new_page(viewport={'width': 1400, 'height': 1600})
            page.goto(f'http://127.0.0.1:{port}/lab?token={token}', wait_until='domcontentloaded') # token → cookie
            for p in paths:
                try: ok, line = run_notebook(page, f'http://127.0.0.1:{port}', p.name, shots, a.timeout)
                except Exception as e:
                    why = (str(e).strip().splitlines() or [''])[0][:300]
                    ok, line = False, f'{p.name}: FAILED: {type(e).__name__}: {why}'
                print(('ok   ' if ok else 'FAIL ') + line, flush=True); results.append(ok)
                try: page.evaluate(CLOSE) # its kernel shut down, the notebook closed unsaved
                except Exception: pass
            browser.close()
    finally:
        if lab is not None:
            lab.terminate()
            try: lab.wait(20)
            except subprocess.TimeoutExpired: lab.kill()
        shutil.rmtree(work, ignore_errors=True)
    failed = results.count(False) + (len(paths) - len(results))
    print(f'browser: {len(paths) - failed} passed, {failed} failed in {time.time() - t0:.0f} s; screenshots in {shots}')
    sys.exit(1 if failed else 0)


if __name__ == '__main__': main()
