"""Benchmark: cleaning and stratified sampling at CT-RATE's real scale.

Data: the synthetic CT-RATE's full-scale tables (metadata only: 20,000 + 1,304 patients, 47,149 + 3,039 volumes).
Measured in one run:
  - clean_and_prepare_data (schema-checked reading of 6 CSVs, the default rules) and write_splits (15 % sample of
    each split plus nested HPO subsets 0.5/0.2/0.05), against the 30 s budget of the data-stages issue;
  - the patient-level sample alone, against the iterative-stratification package alone (what users have today),
    with the largest label-prevalence deviation of each, so the cost of the repair step is visible next to its gain.

Run from the repository root:  python bench/bench_data.py
"""
import shutil, tempfile, time
from pathlib import Path

from ct_classifier.config import default_config
from ct_classifier.synthetic import make_synthetic_ct_rate
from ct_classifier.cleaning import clean_and_prepare_data
from ct_classifier.sampling import max_prevalence_deviation, stratified_sample, write_splits


def main():
    tmp = Path(tempfile.mkdtemp())
    try:
        make_synthetic_ct_rate(tmp/'ct', 20_000, 1_304, shape=(512, 512, 300), metadata_only=True, progress=False)
        cfg = default_config(tmp); cfg.paths.data_root = tmp/'ct'
        t0 = time.perf_counter()
        res = clean_and_prepare_data(cfg, out=tmp/'master.csv')
        t1 = time.perf_counter()
        summary = write_splits(res.master, tmp/'splits', fraction=.15, seed=0, hpo_fractions=(.5, .2, .05))
        t2 = time.perf_counter()
        print(res)
        print(summary.to_string(index=False))
        total = t2 - t0
        print(f'cleaning {t1 - t0:.1f} s + sampling {t2 - t1:.1f} s = {total:.1f} s '
              f'-> {total/30:.3f} of the 30 s budget')
        for split in ('train', 'valid'):
            src = res.master[res.master.split == split]
            worst_pkg = worst_ours = t_pkg = t_ours = 0
            for seed in range(5):
                t = time.perf_counter(); raw = stratified_sample(src, .15, seed, repair=False)
                t_pkg += time.perf_counter() - t

                t = time.perf_counter(); ours = stratified_sample(src, .15, seed); t_ours += time.perf_counter() - t
                worst_pkg = max(worst_pkg, max_prevalence_deviation(raw, src))
                worst_ours = max(worst_ours, max_prevalence_deviation(ours, src))
            print(f'{split} 15 % sample, seeds 0-4: package alone {t_pkg/5:.2f} s, worst deviation {worst_pkg:.2f} pp; '
                  f'with repair {t_ours/5:.2f} s ({t_ours/t_pkg:.2f}x the time), worst deviation {worst_ours:.2f} pp')
    finally:
        shutil.rmtree(tmp)


if __name__ == '__main__': main()
