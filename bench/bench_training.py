"""Benchmark: training. (a) the data pipeline alone, ours vs MONAI's; (b) ResNet-18 training throughput; \
(c) the CT-CLIP recipe from stored latents vs the encoder every step.

All data is the package's synthetic CT-RATE, written to a temporary folder (removed at the end); nothing is written
into the repository.

(a) Data pipeline alone, volumes per second over a full pass (after one untimed pass), `--volumes` volumes cached at
    the `cnn` profile (1×112×240×240), batch size `--batch-size`, the same `num_workers` for both (each value of
    `--workers`), `--rounds` timed passes per side, alternating, best pass kept. Both end with the same thing: a float32
    (B, 1, D, H, W) batch on the training device (`--device`).
    - ours: a torch DataLoader over `CachedVolumeDataset` (float16 entries read through a memory map, as stored),
      then `to_model_input` (the float16 batch moves to the device, becomes float32 there) and `augment_batch` on the
      device, for the whole batch at once: flip of H with probability 0.5 (only the samples drawn are flipped), one
      random rotation of up to ±10° in the axial (H, W) plane and a random translation of up to ±5 % of each axis
      (D, H, W) applied together in one resampling, then intensity ×(1 ± 0.05) and + (±0.05). The resampling is the
      trilinear one, computed separably (the transform never mixes D with H and W): one 2-D bilinear `grid_sample`
      of every (H, W) slice with a grid of H·W points per sample, then a linear blend of two slices along D.
    - MONAI, the way the reference project (Joacodef/CT-RATE_classifier) trains: a `PersistentDataset` whose
      deterministic part (here: the same preprocessed volume as a float32 MetaTensor with its affine, then
      `EnsureTyped` float32) is cached on disk with torch.save, followed per sample, in the DataLoader's workers, by
      random transforms of the same kinds and ranges: `RandFlipd` (spatial axis 1 = H, prob 0.5), `RandAffined`
      (prob 1; rotation of up to ±10° about the D axis, i.e. in the (H, W) plane, translation up to ±5 % of each axis
      in voxels, bilinear, zero padding: rotation and translation in one resampling, as ours does; a separate
      `RandRotated` + translation would resample twice and be slower), `RandScaleIntensityd` (factors 0.05, prob 1),
      `RandShiftIntensityd` (offsets 0.05, prob 1), `EnsureTyped` float32; MONAI's DataLoader; the batch's tensor
      (`as_tensor()`) is moved to the device.
    "read only" rows time the same loaders without the augmentation (ours: read + `to_model_input`; MONAI: the
    PersistentDataset entry through MONAI's DataLoader), to show where the time goes.
(b) ResNet-18 (`create_model({'family': 'resnet', 'variant': '18'})`) trained by `Trainer` on the `cnn` profile's
    volumes (1×112×240×240) from the cache, batch size `--train-batch`, `FocalLoss()`, AdamW, `augment_batch` on the
    device; one untimed warm-up step, then `--train-steps` timed steps (data, augmentation, forward, backward,
    optimizer step). On CUDA the Trainer's default bf16 autocast is on; on the CPU it runs in float32.
(c) The CT-CLIP recipe (the LiPro head, CT-CLIP's weighted BCE: `FocalLoss(gamma=0, pos_weight=CTCLIP_POS_WEIGHT)`,
    AdamW, batch size `--ctclip-batch` = CT-CLIP's 8, `--ctclip-epochs` = 5 epochs) on `--ctclip-volumes` volumes
    cached at CT-CLIP's 1×240×480×480, with the full-size `CTClipClassifier` (our CTViT with CT-CLIP's shapes, random
    weights: the timing does not depend on their values):
    - the reference pipeline's way: `Trainer` on `CachedVolumeDataset`, so the frozen encoder runs on every volume at
      every step of every epoch;
    - ours: `embed_cache` once (batch size 1), then the same `Trainer` on `EmbeddingDataset` training the head alone
      (and, for comparison, `fit_head`, the package's dedicated loop).
    One untimed encoder pass warms the encoder first. `bench/bench_embed.py` measures the same thing with 10 epochs
    extrapolated from one timed reference epoch and `fit_head` at batch size 1; here every epoch of both ways is run.

`--quick` makes everything tiny (a smoke test, seconds): the `cnn_small` profile (1×48×112×112) for (a) and (b),
8 volumes, no workers, one round, one timed step; a tiny CTViT (`CTVIT_VARIANTS['tiny']`) on 1×20×80×80 volumes and
2 volumes for (c). Its numbers mean nothing.

Run from the repository root:  python bench/bench_training.py [--quick] [--device cpu] [--parts abc]
"""
import argparse, copy, os, shutil, tempfile, time, warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from _fresh import cpu_line

ROT_DEG, TRANSLATE, INTENSITY, P_FLIP = 10., 0.05, (0.05, 0.05), 0.5 # the augmentation of both sides in (a) and of (b)


def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)


def machine() -> str:
    "CPU model, AVX2/AVX-512, cores, torch and monai versions, load average."
    try: import monai; mv = monai.__version__
    except ImportError: mv = 'not installed'
    cpu, load = cpu_line()
    return f'{cpu}, {torch.get_num_threads()} torch threads; torch {torch.__version__}, monai {mv}; {load}'


def synthetic_split(root, n):
    "`n` synthetic training volumes with their labels and metadata (a split table)."
    from ct_classifier.core import CTRateLayout
    from ct_classifier.synthetic import make_synthetic_ct_rate
    make_synthetic_ct_rate(root, n_train_patients=max(2, n), n_valid_patients=1, progress=False)
    lay = CTRateLayout(root)
    split = pd.read_csv(lay.labels_csv('train')).merge(pd.read_csv(lay.metadata_csv('train')), on='VolumeName')
    split = split[split.ZSpacing.notna()].head(n).reset_index(drop=True)
    if len(split) < n: raise RuntimeError(f'the synthetic set has only {len(split)} usable volumes, {n} asked')
    return split


def cached(split, root, cache, profile):
    from ct_classifier.cache import cache_folder, generate_cache
    s = generate_cache(split, root, cache, profile, workers=min(2, os.cpu_count() or 1), progress=False)
    if s.failed: raise RuntimeError(f'caching failed: {s.failed}')
    return cache_folder(cache, profile)


# ---------------------------------------------------------------- (a)
def ours_pass(dl, dev, augment, seed=0):
    from ct_classifier.data import augment_batch, to_model_input
    g, n = torch.Generator().manual_seed(seed), 0
    t = time.perf_counter()
    for x, y in dl:
        x, y = to_model_input(x, dev), y.to(dev)
        if augment: x = augment_batch(x, flip=('H',), p_flip=P_FLIP, rotate_deg=ROT_DEG,
                                      translate={a: TRANSLATE for a in 'DHW'}, intensity=INTENSITY, generator=g)
        n += len(x)
    sync(dev)
    return n/(time.perf_counter() - t), x


def monai_pass(dl, dev):
    n, t = 0, time.perf_counter()
    for b in dl:
        x, _ = b['image'], b['label'].to(dev) # the labels move too, as in training
        x = (x.as_tensor() if hasattr(x, 'as_tensor') else x).to(dev)
        n += len(x)
    sync(dev)
    return n/(time.perf_counter() - t), x


def monai_datasets(ds, spacing, cache_dir):
    ("The reference project's way: PersistentDataset (deterministic part on disk) + per-sample random transforms; "
     "and a read-only twin.")
    from monai.data import MetaTensor, PersistentDataset
    from monai.transforms import (Compose, EnsureTyped, Lambdad, RandAffined, RandFlipd, RandScaleIntensityd,
                                  RandShiftIntensityd)
    affine = torch.diag(torch.tensor([*spacing, 1.], dtype=torch.float64))
    D, H, W = np.load(ds.files[0], mmap_mode='r').shape[1:]
    load = [Lambdad('image', lambda p: MetaTensor(torch.from_numpy(np.load(p).astype(np.float32)), affine=affine)),
            EnsureTyped(keys=['image', 'label'], dtype=torch.float32)]
    rand = [RandFlipd('image', prob=P_FLIP, spatial_axis=1),
            RandAffined('image', prob=1.0, rotate_range=(np.deg2rad(ROT_DEG), 0, 0),
                        translate_range=(TRANSLATE*D, TRANSLATE*H, TRANSLATE*W), mode='bilinear', padding_mode='zeros'),
            RandScaleIntensityd('image', factors=INTENSITY[0], prob=1.0),
            RandShiftIntensityd('image', offsets=INTENSITY[1], prob=1.0),
            EnsureTyped(keys=['image', 'label'], dtype=torch.float32)]
    data = [{'image': str(f), 'label': ds.labels[i].numpy()} for i, f in enumerate(ds.files)]
    aug = PersistentDataset(data, transform=Compose(load + rand), cache_dir=cache_dir)
    read = PersistentDataset(data, transform=Compose(load),
                             cache_dir=cache_dir) # same entries (the key hashes the data item)
    for i in range(len(read)): read[i] # write the disk cache (untimed)
    return aug, read


def part_a(args, tmp, split, folder, profile, dev):
    from monai.data import DataLoader as MonaiLoader
    from ct_classifier.data import CachedVolumeDataset
    from ct_classifier.volumes import get_profile
    ds = CachedVolumeDataset(split, folder)
    p = get_profile(profile)
    m_aug, m_read = monai_datasets(ds, p.spacing, tmp/'monai')
    mb = lambda f: Path(f).stat().st_size/2**20
    print(f'\n(a) data pipeline: {len(ds)} volumes of (1, {", ".join(map(str, p.shape))}) at the {p.name!r} profile, '
          f'batch size {args.batch_size}, output float32 on {dev}; '
          f'entry {mb(ds.files[0]):.1f} MiB (ours, float16 .npy) vs '
          f'{mb(next((tmp/"monai").glob("*.pt"))):.1f} MiB (MONAI, pickled float32 MetaTensor)')

    rows = []
    for w in args.workers:
        kw = dict(batch_size=args.batch_size, shuffle=True, num_workers=w, persistent_workers=w > 0)
        loaders = {'ours': torch.utils.data.DataLoader(ds, generator=torch.Generator().manual_seed(0), **kw),
                   'MONAI': MonaiLoader(m_aug, **kw),
                   'ours read only': torch.utils.data.DataLoader(ds, generator=torch.Generator().manual_seed(0), **kw),
                   'MONAI read only': MonaiLoader(m_read, **kw)}
        run = {'ours': partial(ours_pass, loaders['ours'], dev, True),
               'MONAI': partial(monai_pass, loaders['MONAI'], dev),
               'ours read only': partial(ours_pass, loaders['ours read only'], dev, False),
               'MONAI read only': partial(monai_pass, loaders['MONAI read only'], dev)}
        outs = {k: f()[1] for k, f in run.items()} # untimed pass: starts the workers, fills the page cache
        a, b = outs['ours'], outs['MONAI']
        assert (a.shape == b.shape and a.dtype == b.dtype == torch.float32
                and a.device == b.device), (a.shape, a.dtype, b.shape, b.dtype)
        best = {k: 0. for k in run}
        for _ in range(args.rounds):
            for k, f in run.items(): best[k] = max(best[k], f()[0])
        del loaders, run, outs
        rows.append((w, best))
        print(f'  workers {w}: ours {best["ours"]:.2f} vol/s (read only {best["ours read only"]:.1f}), '
              f'MONAI {best["MONAI"]:.2f} vol/s (read only {best["MONAI read only"]:.1f}) '
              f'-> ours {best["ours"]/best["MONAI"]:.2f}x faster (target >= 5); '
              f'both batches {tuple(a.shape)} {a.dtype}', flush=True)
    return rows


# ---------------------------------------------------------------- (b)
def part_b(args, split, folder, profile, dev):
    from ct_classifier.data import CachedVolumeDataset, augment_batch
    from ct_classifier.models import count_parameters, create_model
    from ct_classifier.training import FocalLoss, Trainer
    from ct_classifier.volumes import get_profile
    n = (1 + args.train_steps)*args.train_batch
    ds = CachedVolumeDataset(split.head(n), folder)
    if len(ds) < n: raise RuntimeError(f'(b) needs {n} cached volumes, has {len(ds)}')
    torch.manual_seed(0)
    model = create_model({'family': 'resnet', 'variant': '18'})
    marks = []
    tr = Trainer(model, ds, loss_fn=FocalLoss(), epochs=1, batch_size=args.train_batch, device=dev, progress=False,
                 augment=partial(augment_batch, flip=('H',), p_flip=P_FLIP, rotate_deg=ROT_DEG,
                                 translate={a: TRANSLATE for a in 'DHW'}, intensity=INTENSITY),
                 hooks={'after_step': lambda t: (sync(dev), marks.append(time.perf_counter()))})
    amp = 'bf16 autocast' if dev.type == 'cuda' and tr.amp == 'bf16' else 'float32'
    p = get_profile(profile)
    print(f'\n(b) ResNet-18 ({count_parameters(model)[0]:,} parameters) '
          f'training on (1, {", ".join(map(str, p.shape))}) ({p.name!r} profile), batch size {args.train_batch}, '
          f'FocalLoss, AdamW, augment_batch on the device; {dev}, {amp}', flush=True)
    t0 = time.perf_counter()
    tr.train_epoch()
    steps = np.diff(marks) # marks[0] ends the warm-up step
    vps = args.train_batch*len(steps)/(marks[-1] - marks[0])
    print(f'  warm-up step {marks[0] - t0:.2f} s; {len(steps)} timed steps: {", ".join(f"{s:.2f}" for s in steps)} s '
          f'-> {vps:.3f} volumes/s ({1/vps:.2f} s per volume)', flush=True)
    return vps, steps


# ---------------------------------------------------------------- (c)
def part_c(args, tmp, split, root, dev):
    from ct_classifier.core import CTCLIP_POS_WEIGHT
    from ct_classifier.ctclip import CTClipClassifier
    from ct_classifier.ctvit import CTVIT_VARIANTS
    from ct_classifier.data import CachedVolumeDataset, EmbeddingDataset, to_model_input
    from ct_classifier.embeddings import embed_cache, fit_head
    from ct_classifier.training import FocalLoss, Trainer
    from ct_classifier.volumes import Profile
    split = split.head(args.ctclip_volumes).reset_index(drop=True)
    if args.quick:
        profile, geometry = Profile('bench_tiny', spacing=(12., 4.5, 4.5), shape=(20, 80, 80)), CTVIT_VARIANTS['tiny']
    else:
        profile, geometry = 'ctclip', {}
    t = time.perf_counter()
    folder = cached(split, root, tmp/'cache', profile)
    print(f'\n(c) CT-CLIP recipe: {len(split)} volumes cached at '
          f'{"1×20×80×80, tiny CTViT" if args.quick else "1×240×480×480, full-size CTViT"} '
          f'({time.perf_counter() - t:.1f} s to cache); LiPro head, weighted BCE, AdamW, '
          f'batch size {args.ctclip_batch}, {args.ctclip_epochs} epochs, {dev}', flush=True)
    torch.manual_seed(0)
    model = CTClipClassifier(head='lipro', **geometry)
    head0 = copy.deepcopy(model.head.state_dict())
    loss = lambda: FocalLoss(gamma=0, pos_weight=CTCLIP_POS_WEIGHT) # = BCEWithLogitsLoss(pos_weight=CT-CLIP's weights)
    vols = CachedVolumeDataset(split, folder)
    model.to(dev).eval()
    with torch.no_grad(): model.encode_latents(to_model_input(vols[0][0][None], dev)); sync(dev) # warm-up, untimed
    kw = dict(loss_fn=loss(), epochs=args.ctclip_epochs, batch_size=args.ctclip_batch, device=dev, progress=False)

    # the reference way: the frozen encoder on every volume at every step
    t = time.perf_counter()
    Trainer(model, vols, **kw).fit(); sync(dev)
    ref = time.perf_counter() - t
    print(f'  reference (encoder every step): {ref:.2f} s for {args.ctclip_epochs} epochs '
          f'({ref/args.ctclip_epochs:.2f} s per epoch)', flush=True)

    # ours: encode once, then the same Trainer on the stored latents
    model.head.load_state_dict(head0)
    t = time.perf_counter()
    s = embed_cache(split, folder, model, tmp/'emb', batch_size=1, device=dev, progress=False); sync(dev)
    enc = time.perf_counter() - t
    if s.written != len(split) or s.failed: raise RuntimeError(f'embed_cache: {s}')
    eds = EmbeddingDataset(split, s.folder)
    t = time.perf_counter()
    Trainer(model.head, eds, **{**kw, 'loss_fn': loss()}).fit(); sync(dev)
    head_tr = time.perf_counter() - t
    model.head.load_state_dict(head0)
    t = time.perf_counter()
    fit_head(model.head, eds, epochs=args.ctclip_epochs, batch_size=args.ctclip_batch, pos_weight=CTCLIP_POS_WEIGHT,
             device=dev)
    head_fit = time.perf_counter() - t
    ours = enc + head_tr
    print(f'  ours: embed_cache once {enc:.2f} s, then {args.ctclip_epochs} epochs on the latents '
          f'with Trainer {head_tr*1000:.1f} ms (fit_head {head_fit*1000:.1f} ms) -> {ours:.2f} s in total')
    print(f'  {args.ctclip_epochs} epochs: reference {ref:.2f} s vs ours {ours:.2f} s -> {ref/ours:.1f}x; '
          f'per epoch after encoding: {ref/args.ctclip_epochs:.2f} s vs {head_tr/args.ctclip_epochs*1000:.2f} ms -> '
          f'{ref/head_tr:,.0f}x', flush=True)
    return ref, enc, head_tr, head_fit


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog='\n'.join(__doc__.splitlines()[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true', help='tiny sizes: a smoke test whose numbers mean nothing')
    ap.add_argument('--device', default='cpu', help="cpu, cuda, cuda:1 or auto (default: cpu)")
    ap.add_argument('--parts', default='abc', help='which parts to run, e.g. "a" or "bc" (default: abc)')
    ap.add_argument('--volumes', type=int, default=16, help='(a) volumes in the pass (default: 16)')
    ap.add_argument('--batch-size', type=int, default=4, help='(a) batch size (default: 4)')
    ap.add_argument('--workers', default='0,2',
                    help='(a) DataLoader workers, comma-separated values, each run for both sides (default: 0,2)')
    ap.add_argument('--rounds', type=int, default=2,
                    help='(a) timed passes per side, alternating; the best is kept (default: 2)')
    ap.add_argument('--train-batch', type=int, default=2, help='(b) batch size (default: 2)')
    ap.add_argument('--train-steps', type=int, default=2, help='(b) timed steps after one warm-up step (default: 2)')
    ap.add_argument('--ctclip-volumes', type=int, default=4, help='(c) volumes (default: 4)')
    ap.add_argument('--ctclip-epochs', type=int, default=5, help="(c) epochs (default: 5, the recipe's)")
    ap.add_argument('--ctclip-batch', type=int, default=8, help="(c) batch size (default: 8, CT-CLIP's)")
    args = ap.parse_args()
    if args.quick: args.volumes, args.workers, args.rounds, args.train_steps, args.ctclip_volumes = 8, '0', 1, 1, 2
    args.workers = [int(w) for w in args.workers.split(',')]
    warnings.filterwarnings('ignore')
    from ct_classifier.runtime import get_logger, pick_device
    get_logger('training').setLevel('WARNING') # no per-epoch lines
    dev = pick_device(args.device)
    profile = 'cnn_small' if args.quick else 'cnn'
    print(f'{time.strftime("%Y-%m-%d %H:%M")}; {machine()}; device {dev}'
          + (' (CUDA: ' + torch.cuda.get_device_name(dev) + ')' if dev.type == 'cuda' else ''), flush=True)
    n = max(args.volumes if 'a' in args.parts else 0,
            (1 + args.train_steps)*args.train_batch if 'b' in args.parts else 0,
            args.ctclip_volumes if 'c' in args.parts else 0)
    tmp = Path(tempfile.mkdtemp(prefix='bench_training_'))
    try:
        t = time.perf_counter()
        split = synthetic_split(tmp/'ct', n)
        folder = cached(split, tmp/'ct', tmp/'cache', profile) if set('ab') & set(args.parts) else None
        print(f'synthetic set: {n} volumes written and cached at the {profile!r} profile '
              f'in {time.perf_counter() - t:.1f} s', flush=True)
        if 'a' in args.parts: part_a(args, tmp, split.head(args.volumes), folder, profile, dev)
        if 'b' in args.parts: part_b(args, split, folder, profile, dev)
        if 'c' in args.parts: part_c(args, tmp, split, tmp/'ct', dev)
        if dev.type == 'cuda':
            print(f'\npeak GPU memory allocated: {torch.cuda.max_memory_allocated(dev)/2**20:,.0f} MiB '
                  f'(parts {args.parts}; torch.cuda.max_memory_allocated, CUDA {torch.version.cuda})')

    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'\nload average at the end: {"/".join(f"{v:.2f}" for v in os.getloadavg())}')


if __name__ == '__main__': main()
