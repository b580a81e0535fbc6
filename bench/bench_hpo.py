"""Benchmark: hyperparameter search staged by data (ours) vs staged by trial number (the reference project's scheme), \
at equal compute.

Setting (tiny, so the whole script runs in minutes on 2 CPU cores): the package's synthetic CT-RATE, `--train`
training and `--valid` validation patients at difficulty 0, a tune split of 25 % of the training split (the objective:
macro AUROC on it), nested HPO subsets of the train split at the fractions `--fractions` (default 0.5 and 1.0, the
latter the whole train split), a tiny
ResNet-10 (widths 8, 16, 32, 64) at the `cnn_tiny` profile, `--epochs` epochs per training run, batch size 4, no
augmentation, float32 on the CPU. The search space is the same on both sides: the learning rate (log-uniform
1e-4..3e-2) and the weight decay (uniform 0..0.1). Both sides sample with Optuna's `TPESampler(seed=s)` and train a
trial with the package's `apply_params(cfg, params, seed=cfg.seed + trial number)` and
`train_from_config(..., hpo_fraction=f)`, so a given (parameters, seed, fraction) trains identically on both sides.
One row per side and per seed s in `--seeds` (the TPE seed and the base training seed both change with s). Optuna's
TPE samples its first 10 trials at random (`n_startup_trials`), so with the same seed both sides draw the same
parameters for their first 10 trials. Defaults: 60 + 20 patients, 5 seeds, 10 trials, eta 2, 2 epochs per run
(about 4-5 minutes on 2 cores).

- staged by data (ours, `ct_classifier.hpo.run_study`): `--trials` trials; every trial starts on the smallest
  fraction; a trial is promoted to the next larger fraction only if its score ranks in the top 1/`--eta` of the
  scores reported so far at the same fraction (asynchronous successive halving), else pruned; scores at different
  fractions are never compared: the best is the best trial that completed the largest fraction. Its compute is
  counted after the run: trial-epochs = (training runs, all stages of all trials) x epochs.
- staged by trial number (the reference project's scheme, implemented here with Optuna directly): a plain study with
  the same sampler and seed, as many single-stage trials as ours spent training runs (so the trial-epochs are
  equal); trial t trains on a fraction decided by its number alone (the first 1/k of the trials on the smallest of
  the k fractions, the next 1/k on the next, ...); every trial runs to completion on its fraction and the study's
  best is the maximum score over all trials, whatever their fraction, compared as equals (the flaw: a score on a
  small subset is noisier and not comparable). "honest" re-scores its chosen trial: the same parameters and seed
  trained on the largest fraction and scored on the tune split (no retraining when it already was on the largest
  fraction); that re-training is not counted in its compute.

Reported per side and seed: the best tune-split macro AUROC, the fraction it was reached on, the trial-epochs and
volume-epochs (epochs x training volumes, which weighs an epoch by its data) the search spent, the trial-epochs
spent until the best was first reached, and the wall time of the search (ours includes `run_study`'s bookkeeping:
the journal file, the trial folders, `trials.csv` and `best_config.yaml`). All files go to a temporary folder,
removed at the end. `--quick` is a smoke run (fewer patients, 3 trials, one seed); its numbers mean nothing.

Run from the repository root:  python bench/bench_hpo.py [--quick]
"""
import argparse, copy, logging, shutil, tempfile, time, warnings
from pathlib import Path

import pandas as pd
import torch
import optuna
from optuna.trial import TrialState

from _fresh import cpu_line


def base_config(root, args):
    from ct_classifier.config import HPOConfig, config_from_dict, default_config
    cfg = default_config(root)
    cfg.name, cfg.device = 'bench_hpo', 'cpu'
    (cfg.synthetic.n_train_patients, cfg.synthetic.n_valid_patients,
     cfg.synthetic.shape) = args.train, args.valid, (64, 64, 40)
    cfg.synthetic.difficulty = 0
    cfg.model.variant, cfg.model.options, cfg.training.profile = '10', {'widths': [8, 16, 32, 64]}, 'cnn_tiny'
    cfg.training.epochs, cfg.training.batch_size, cfg.training.augment, cfg.training.amp = args.epochs, 4, False, 'none'
    cfg.sampling.tune_fraction, cfg.sampling.hpo_fractions = 0.25, list(args.fractions)
    cfg.hpo = config_from_dict({'params': {'training.lr': {'type': 'float', 'low': 1e-4, 'high': 3e-2, 'log': True},
                                           'training.weight_decay': {'type': 'float', 'low': 0.0, 'high': 0.1}},
                                'n_trials': args.trials, 'eta': args.eta, 'seed': 0}, cls=HPOConfig)
    return cfg


def n_volumes(cfg, f):
    from ct_classifier.sampling import read_split
    return len(read_split(cfg.paths.splits_dir, 'train', f))


def train_score(cfg, params, seed, f, run_dir):
    from ct_classifier.hpo import apply_params
    from ct_classifier.experiment import train_from_config
    t = train_from_config(apply_params(cfg, params, seed), run_dir, progress=False, hpo_fraction=f)
    return t.best['score']


def by_data(cfg, s, nvol):
    "Ours: `run_study`; the best completed trial, the training runs it spent, and when the best was first reached."
    from ct_classifier.hpo import run_study
    c = copy.deepcopy(cfg); c.hpo.seed, c.seed = s, s
    t0 = time.perf_counter()
    st = run_study(c, study_name=f'data_s{s}')
    wall = time.perf_counter() - t0
    trials = sorted(st.get_trials(deepcopy=False), key=lambda t: t.number)
    runs, spent, best, best_at, fr = 0, 0., -1., None, c.hpo.fractions or sorted(c.sampling.hpo_fractions)
    fr = sorted(fr)
    for t in trials:
        k = len(t.user_attrs.get('run_dirs', []))
        runs += k; spent += sum(nvol[f] for f in fr[:k])
        if t.state == TrialState.COMPLETE and t.value > best: best, best_at = t.value, runs
    return dict(best=best, fraction=fr[-1], honest=best, runs=runs, vol_epochs=spent*c.training.epochs,
                to_best=best_at*c.training.epochs if best_at else None, wall=wall,
                detail=f"{sum(t.state == TrialState.COMPLETE for t in trials)} of {len(trials)} trials "
                       f"promoted to f={fr[-1]:g}")


def by_trial_number(cfg, s, n, nvol, folder):
    "The reference scheme: `n` single-stage trials, trial t's fraction decided by t alone; the best over all fractions."
    from ct_classifier.hpo import search_space, suggest_params
    fr = sorted(cfg.hpo.fractions or cfg.sampling.hpo_fractions)
    c = copy.deepcopy(cfg); c.hpo.seed, c.seed = s, s
    space = search_space(c)
    st = optuna.create_study(direction='maximize', sampler=optuna.samplers.TPESampler(seed=s))
    frac_of = lambda t: fr[min(len(fr) - 1, t*len(fr)//n)]
    t0, rows = time.perf_counter(), []
    for _ in range(n):
        trial = st.ask()
        params, f = suggest_params(trial, space), frac_of(trial.number)
        score = train_score(c, params, c.seed + trial.number, f, folder/f'ref_s{s}'/f'{trial.number:04d}')
        st.tell(trial, score)
        rows.append((trial.number, f, params, score))
    wall = time.perf_counter() - t0
    num, f, params, best = max(rows, key=lambda r: r[3]) # the flaw: every fraction's scores compared as equals
    honest = best if f == fr[-1] else train_score(c, params, c.seed + num, fr[-1],
                                                  folder/f'ref_s{s}'/f'honest_{num:04d}')
    return dict(best=best, fraction=f, honest=honest, runs=n,
                vol_epochs=sum(nvol[r[1]] for r in rows)*c.training.epochs,
                to_best=(num + 1)*c.training.epochs, wall=wall,
                detail=f"{sum(r[1] == fr[0] for r in rows)} trials at f={fr[0]:g}, "
                       f"{sum(r[1] != fr[0] for r in rows)} larger; best trial {num}")


def markdown(df, index=False):
    "A markdown table (no tabulate needed); numbers to 4 significant digits."
    if index: df = df.reset_index()
    cell = lambda v: f'{v:.4g}' if isinstance(v, float) else str(v)
    lines = ['| ' + ' | '.join(map(str, df.columns)) + ' |', '|' + '---|'*len(df.columns)]
    return '\n'.join(lines + ['| ' + ' | '.join(cell(v) for v in r) + ' |' for r in df.itertuples(index=False)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='a smoke run; its numbers mean nothing')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    ap.add_argument('--trials', type=int, default=10, help='trials of the staged-by-data study')
    ap.add_argument('--eta', type=int, default=2)
    ap.add_argument('--epochs', type=int, default=2, help='epochs per training run')
    ap.add_argument('--fractions', type=float, nargs='+', default=[0.5, 1.0], help='HPO fractions of the train split')
    ap.add_argument('--train', type=int, default=60)
    ap.add_argument('--valid', type=int, default=20)
    args = ap.parse_args()
    if args.quick: args.seeds, args.trials, args.train, args.valid = args.seeds[:1], 3, 24, 8
    import ct_classifier.experiment, ct_classifier.hpo # their loggers exist, then quieted
    warnings.filterwarnings('ignore'); logging.getLogger('ct_classifier').setLevel(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    cpu, load = cpu_line()
    print(f'{cpu}, {torch.get_num_threads()} torch threads; '
          f'torch {torch.__version__}, optuna {optuna.__version__}; {load}')
    tmp = Path(tempfile.mkdtemp(prefix='bench_hpo_'))
    try:
        from ct_classifier.experiment import prepare_data
        cfg = base_config(tmp/'exp', args)
        t0 = time.perf_counter(); d = prepare_data(cfg, progress=False)
        fr = sorted(cfg.sampling.hpo_fractions)
        nvol = {f: n_volumes(cfg, f) for f in fr}
        print(f"data: {len(d['train'])} train / {len(d['tune']) if d['tune'] is not None else 0} tune volumes, "
              "HPO subsets " + ', '.join(f'f={f:g}: {nvol[f]}' for f in fr)
              + f'; prepared in {time.perf_counter() - t0:.0f} s')

        rows = []
        for s in args.seeds:
            a = by_data(cfg, s, nvol)
            b = by_trial_number(cfg, s, a['runs'], nvol, tmp)
            for side, r in (('staged by data (ours)', a), ('staged by trial number (reference)', b)):
                rows.append({'seed': s, 'scheme': side, 'best tune AUROC': r['best'], 'on fraction': r['fraction'],
                             'honest (largest fraction)': r['honest'], 'trial-epochs': r['runs']*cfg.training.epochs,
                             'volume-epochs': r['vol_epochs'], 'trial-epochs to best': r['to_best'],
                             'wall s': r['wall'], 'detail': r['detail']})

                print(f"seed {s} {side}: best {r['best']:.4f} on f={r['fraction']:g}, honest {r['honest']:.4f}, "
                      f"{r['runs']*cfg.training.epochs} trial-epochs, {r['wall']:.0f} s; {r['detail']}", flush=True)
        df = pd.DataFrame(rows)
        print('\n' + markdown(df))
        m = df.groupby('scheme', sort=False)[['best tune AUROC', 'honest (largest fraction)', 'trial-epochs',
                                              'volume-epochs', 'wall s']].mean()

        print('\nmean over seeds:\n' + markdown(m, index=True))
        print(f'\n{cpu_line()[1]} (at the end)')
    finally: shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__': main()
