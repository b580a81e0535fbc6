"""Benchmark: reading one preprocessed 1×240×480×480 volume from the cache, ours vs MONAI's PersistentDataset.

Ours: a float16 .npy read through a memory map (`CachedVolumeDataset.__getitem__`), as stored (the dataset's default;
the training loop converts on its device with `to_model_input`) and converted to float32 on the CPU \
(dtype=torch.float32).
MONAI: PersistentDataset, whose cache entry is the transform output saved with torch.save (the transform returns
a float32 MetaTensor, as in the closest peer project; MONAI decides how it pickles it). \
Both hold the same preprocessed volume (our "ctclip" profile of
a synthetic 512×512×300 volume). Times are the best of `--repeat` reads, with the files in the page cache ("warm")
and after evicting them with posix_fadvise(DONTNEED) ("cold", as in a first epoch over a big cache).

With `--device cuda` it also times the read as training uses it on a GPU: ours, the float16 entry moved to the device
and made float32 there (`to_model_input`), against MONAI's float32 entry moved to the device (`.to(device)`), each
timer stopped after `torch.cuda.synchronize()`, warm and cold.

Run from the repository root:  python bench/bench_cache.py [--repeat 5] [--device cuda]
"""
import argparse, os, shutil, tempfile, time, warnings
from pathlib import Path

import numpy as np
import torch


def evict(paths):
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try: os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally: os.close(fd)


def best(f, repeat, cold_files=None, sync=lambda: None):
    ts = []
    for _ in range(repeat):
        if cold_files: evict(cold_files)
        t = time.perf_counter(); x = f(); sync(); ts.append(time.perf_counter() - t)
        assert x.shape[-4:] == (1, 240, 480, 480)
    return min(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeat', type=int, default=5)
    ap.add_argument('--device', default='cpu',
                    help='cpu (default): the reads alone; cuda: also the reads moved to the GPU')
    args = ap.parse_args()
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        ap.error(f'--device {args.device}: torch.cuda.is_available() is False')
    warnings.filterwarnings('ignore')
    from monai.data import MetaTensor, PersistentDataset
    from monai.transforms import Lambdad
    from ct_classifier.findings import render_volume
    from ct_classifier.synthetic import _affine_lps
    from ct_classifier.core import LABELS
    from ct_classifier.files import save_nifti, save_csv
    from ct_classifier.volumes import load_volume, preprocess_volume
    from ct_classifier.cache import generate_cache, cache_folder
    from ct_classifier.data import CachedVolumeDataset, to_model_input
    import pandas as pd
    tmp = Path(tempfile.mkdtemp())
    try:
        name = 'train_1_a_1.nii.gz'
        nii = tmp/'ct'/'dataset'/'train_fixed'/'train_1'/'train_1_a'/name
        sp = (0.688, 0.688, 1.112)
        save_nifti(np.rint(render_volume((512, 512, 300), sp, labels=np.ones(18))).astype(np.int16),
                   _affine_lps((512, 512, 300), sp), nii)
        split = pd.DataFrame({'VolumeName': [name], 'xy_spacing': [sp[0]], 'z_spacing': [sp[2]],
                              **{l: [1] for l in LABELS}})
        generate_cache(split, tmp/'ct', tmp/'cache', 'ctclip', progress=False)
        ds = CachedVolumeDataset(split, cache_folder(tmp/'cache', 'ctclip'), dtype=torch.float32)
        ds16 = CachedVolumeDataset(split, cache_folder(tmp/'cache', 'ctclip')) # the default: float16 as stored
        ours_file = ds.files[0]
        x = preprocess_volume(load_volume(nii, split.iloc[0]), 'ctclip')
        monai_ds = PersistentDataset([{'img': str(nii)}], transform=Lambdad('img', lambda p: MetaTensor(x.clone())),
                                     cache_dir=tmp/'monai')
        monai_ds[0] # writes the cache entry
        monai_file = next((tmp/'monai').glob('*.pt'))
        def get_monai():
            t = monai_ds[0]['img']
            return t.as_tensor() if hasattr(t, 'as_tensor') else t
        get_ours, get_ours16 = (lambda: ds[0][0]), (lambda: ds16[0][0])
        assert torch.allclose(get_ours(), get_monai(), atol=1e-3)
        mb = lambda p: p.stat().st_size/2**20
        print(f'entry size: ours {mb(ours_file):.1f} MiB (float16 .npy), '
              f'MONAI {mb(monai_file):.1f} MiB (pickled float32 MetaTensor)')
        for label, cold in (('warm', None), ('cold', True)):
            t16 = best(get_ours16, args.repeat, [ours_file] if cold else None)
            t32 = best(get_ours, args.repeat, [ours_file] if cold else None)
            tm = best(get_monai, args.repeat, [monai_file] if cold else None)
            print(f'{label}: MONAI PersistentDataset {tm*1000:.0f} ms (float32); '
                  f'ours, the default (float16 as stored) {t16*1000:.0f} ms -> {tm/t16:.1f}x faster (target >= 5); '
                  f'ours converted to float32 on the CPU {t32*1000:.0f} ms -> {tm/t32:.1f}x')
        dev = torch.device(args.device)
        if args.device != 'cpu': # (cpu:0 runs this part on the CPU: a check of the script itself)
            sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
            to_dev_ours = lambda: to_model_input(get_ours16()[None], dev) # float16 over the bus, float32 on the device
            to_dev_monai = lambda: get_monai()[None].to(dev) # float32 over the bus
            a, b = to_dev_ours(), to_dev_monai(); sync() # untimed: CUDA context, pinned staging
            assert a.dtype == b.dtype == torch.float32 and torch.allclose(a, b, atol=1e-3)
            name = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else str(dev)
            for label, cold in (('warm', None), ('cold', True)):
                td = best(to_dev_ours, args.repeat, [ours_file] if cold else None, sync)
                tmd = best(to_dev_monai, args.repeat, [monai_file] if cold else None, sync)
                print(f'{label}, to {dev} ({name}) as float32: '
                      f'MONAI {tmd*1000:.0f} ms; ours {td*1000:.0f} ms -> {tmd/td:.1f}x faster')
            if dev.type == 'cuda':
                print(f'peak GPU memory allocated: {torch.cuda.max_memory_allocated(dev)/2**20:,.0f} MiB')

    finally:
        shutil.rmtree(tmp)


if __name__ == '__main__': main()
