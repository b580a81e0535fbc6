"""Benchmark: how fast the synthetic CT-RATE is generated.

No peer tool makes a CT-RATE-shaped dataset (the alternative is downloading the gated 21 TB release), so each
time is printed as a ratio against its budget from the foundation issue:
  - the default set, 42 volumes of 96×96×64 (the issue asks for 40), in under 60 s;
  - CT-RATE's full-scale tables (20,000 + 1,304 patients, 47,149 + 3,039 volumes), metadata only, in under 30 s.
It also times one CT-RATE-sized volume (512×512×300, all 18 findings), rendered and written as .nii.gz.

Run from the repository root:  python bench/bench_synthetic.py [--workers N]
"""
import argparse, os, shutil, tempfile, time
from pathlib import Path

import numpy as np
from ct_classifier.core import CTRateLayout
from ct_classifier.findings import render_volume
from ct_classifier.synthetic import make_synthetic_ct_rate, _write_volume


def timed(f, *a, **kw):
    t = time.perf_counter(); r = f(*a, **kw)
    return r, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--workers', type=int, default=os.cpu_count())
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        print(f'cores: {os.cpu_count()}, workers: {args.workers}')
        s, t_small = timed(make_synthetic_ct_rate, tmp/'small', workers=args.workers, progress=False)
        n = int(s.counts.volumes.sum())
        print(f'default set: {n} volumes of 96x96x64 in {t_small:.1f} s '
              f'({t_small/n*1000:.0f} ms per volume) -> {t_small/60:.3f} of the 60 s budget')
        s1, t_small1 = timed(make_synthetic_ct_rate, tmp/'small1', workers=1, progress=False)
        print(f'  same with 1 worker: {t_small1:.1f} s (parallel speed-up {t_small1/t_small:.2f}x)')
        s, t_meta = timed(make_synthetic_ct_rate, tmp/'full', 20_000, 1_304, shape=(512, 512, 300),
                          metadata_only=True, progress=False)
        c = s.counts
        print(f"real-scale metadata: train {c.loc['train'].tolist()}, valid {c.loc['valid'].tolist()} "
              f'(patients, scans, volumes) in {t_meta:.1f} s -> {t_meta/30:.3f} of the 30 s budget')
        spacing = (350/512, 350/512, 1.0)
        _, t_render = timed(render_volume, (512, 512, 300), spacing, labels=np.ones(18))
        job = dict(name='train_1_a_1.nii.gz', path=CTRateLayout(tmp/'big').volume_path('train_1_a_1.nii.gz'),
                   shape=(512, 512, 300), spacing=spacing, labels=np.ones(18), sides='B'*18, difficulty=.3,
                   seed=(0, 0, 1, 0, 1), kind='chest', noise_sd=14., layout='fixed')
        (_, err), t_write = timed(_write_volume, job)
        assert err is None, err
        print(f'one 512x512x300 volume with all 18 findings: render {t_render:.1f} s, render + write .nii.gz '
              f"{t_write:.1f} s, {job['path'].stat().st_size/2**20:.0f} MiB")
    finally:
        shutil.rmtree(tmp)


if __name__ == '__main__': main()
