#!/usr/bin/env python
"""What `nbdev_docs` does before Quarto renders the site, without installing Quarto: refresh the Quarto config, the
module index and the sidebar, then process every notebook for the docs (nbdev's `proc_nbs`, which executes the
cells that `show_doc` needs). `nbdev_proc_nbs` itself would first try to install Quarto with sudo and reinstall
the package, so CI calls the same steps here. A notebook that breaks the docs build raises; nbdev's warning about
a cell that mixes imports with other code (the docs build would run that cell) is an error here.
"""
import shutil, sys, warnings
from pathlib import Path

import nbdev.doclinks
from nbdev.config import get_config
from nbdev.quarto import nbdev_sidebar, refresh_quarto_yml
from nbdev.serve import proc_nbs

def main():
    cfg = get_config()
    cache = cfg.config_path/'_proc'
    if cache.exists(): shutil.rmtree(cache) # nbdev's own build folder (git-ignored): always processed from scratch here
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        proc_nbs(cfg.nbs_path, n_workers=0) # in this process, so the warnings are caught
    mixed = [w for w in caught if 'containing imports and other code' in str(w.message)]
    n = len(list(cache.rglob('*.ipynb')))
    shutil.rmtree(cache)
    if mixed:
        for w in mixed: print(str(w.message), file=sys.stderr)
        sys.exit(f'{len(mixed)} cell(s) mix imports with other code: the docs build would execute them; '
                 'move the imports to a cell of their own')
    print(f'docs: {n} notebooks processed')

if __name__ == '__main__': main()
