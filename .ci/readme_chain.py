"""Run README.md's block of stage commands as written, in order, in a fresh temporary folder.

The block is the ```sh block right after the line `<!-- readme-chain: ... -->` (the only such marker in README.md).
Each line runs with bash (a line ending in `\\` continues on the next), in the same folder, with the console scripts of
this interpreter's environment first on PATH. The first command that fails ends the run: its line, exit code and
output are printed and the exit code is 1. On success it prints each command's time and the total (wall and CPU).
Usage: python .ci/readme_chain.py [--keep DIR]   (--keep: run in DIR, an empty or missing folder, and leave it there)
"""
import argparse, os, re, resource, subprocess, sys, tempfile, time
from pathlib import Path

MARKER = '<!-- readme-chain:'

def chain_block(readme:str) -> list[str]:
    "The commands of the ```sh block right after the marker line: one per line, continuations joined, comments dropped."
    found = readme.count(MARKER)
    if found != 1: raise SystemExit(f'README.md: expected exactly one {MARKER!r} line, found {found}')
    after = readme[readme.index(MARKER):].split('\n', 1)[1]
    m = re.match(r'```sh\n(.*?)\n```', after, re.S)
    if not m: raise SystemExit(f'README.md: the line after {MARKER!r} ... must open a ```sh block')
    commands, pending = [], ''
    for line in m.group(1).splitlines():
        if line.rstrip().endswith('\\'): pending += line.rstrip()[:-1] + ' '; continue
        line = pending + line; pending = ''
        if line.strip() and not line.lstrip().startswith('#'): commands.append(line.strip())
    return commands

def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def run_chain(commands:list[str], folder:Path) -> bool:
    env = dict(os.environ, PATH=f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}')
    start, cpu0 = time.time(), cpu_seconds()
    for i, cmd in enumerate(commands, 1):
        t0, c0 = time.time(), cpu_seconds()
        p = subprocess.run(['bash', '-c', cmd], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            print(f'FAIL README chain, command {i} of {len(commands)} (exit code {p.returncode}):\n  {cmd}\n'
                  f'its output:\n{p.stdout.rstrip()}', file=sys.stderr)
            return False
        print(f'{time.time() - t0:6.1f} s ({cpu_seconds() - c0:5.1f} s CPU)  {cmd}')
    print(f'README chain: {len(commands)} commands passed in {time.time() - start:.1f} s '
          f'({cpu_seconds() - cpu0:.1f} s of CPU) in {folder}')
    return True

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--keep', help='run in this folder (empty or missing) and leave it there')
    args = ap.parse_args()
    commands = chain_block((Path(__file__).resolve().parent.parent/'README.md').read_text(encoding='utf-8'))
    if args.keep:
        folder = Path(args.keep); folder.mkdir(parents=True, exist_ok=True)
        if any(folder.iterdir()): raise SystemExit(f'{folder}: not empty')
        ok = run_chain(commands, folder.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix='readme_chain_') as d: ok = run_chain(commands, Path(d))
    sys.exit(0 if ok else 1)
