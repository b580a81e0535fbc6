"""Benchmark: preprocessing one CT-RATE-sized volume (512×512×300) to CT-CLIP's input (1, 240, 480, 480).

Compared in one run, on the same synthetic volume (v1 raw values + metadata rescale, and the v2 `*_fixed` HU file):
  - ours: `load_volume` + `preprocess_volume(profile='ctclip')`;
  - CT-CLIP's own loader: `CTReportDatasetinfer.nii_img_to_tensor` from `scripts/data_inference_nii.py`, imported
    from a checkout of github.com/ibrahimethemhamamci/CT-CLIP kept outside this project (`--ctclip PATH`);
  - MONAI: Compose(LoadImaged, EnsureChannelFirstd, Orientationd, Spacingd, ScaleIntensityRanged,
    ResizeWithPadOrCropd) to the same geometry (LPS, 0.75×0.75×1.5 mm, 480×480×240, [-1000, 1000] → [-1, 1]).
Each method runs in a fresh process: time is the best of `--repeat` runs (the first run is printed too: it pays
for first-touch page faults), peak memory is the process's peak RSS (VmHWM, Linux) above its baseline after imports. \
Outputs are compared with CT-CLIP's (max absolute difference).

With `--device cuda`, ours also runs with its resampling on the GPU (`preprocess_volume(..., device='cuda')`: the file
is read and inflated on the CPU, each slab is converted and resampled on the device), timed after
`torch.cuda.synchronize()`, with its peak `torch.cuda.max_memory_allocated`, and compared with ours on the CPU.
Without `--ctclip`, CT-CLIP's loader is left out (ours and MONAI only).

Run from the repository root:  python bench/bench_preprocess.py --ctclip /path/to/CT-CLIP [--repeat 3]
                               python bench/bench_preprocess.py --device cuda [--skip-monai]
"""
import argparse, os, sys, tempfile, time, shutil
from pathlib import Path

import numpy as np

from _fresh import in_fresh_process, proc_status_mb


def _run(method, path, meta_csv, ctclip, repeat, out_npy, device, q):
    import pandas as pd, torch
    dev = torch.device(device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
    df = pd.read_csv(meta_csv)
    row = df[df.VolumeName == Path(path).name].iloc[0]
    if method == 'ours':
        from ct_classifier.volumes import load_volume, preprocess_volume
        run = (lambda: preprocess_volume(load_volume(path, row), 'ctclip')) if dev.type == 'cpu' else \
              (lambda: preprocess_volume(load_volume(path, row), 'ctclip', device=dev))
    elif method == 'ctclip':
        sys.path.insert(0, str(Path(ctclip)/'scripts'))
        from data_inference_nii import CTReportDatasetinfer
        run = lambda: CTReportDatasetinfer.nii_img_to_tensor(None, str(path), df)
    else:
        from monai.transforms import (Compose, LoadImaged, EnsureChannelFirstd, Orientationd, Spacingd,
                                      ScaleIntensityRanged, ResizeWithPadOrCropd)
        t = Compose([LoadImaged(keys='img', image_only=True), EnsureChannelFirstd(keys='img'),
                     Orientationd(keys='img', axcodes='LPS'),
                     Spacingd(keys='img', pixdim=(0.75, 0.75, 1.5), mode='bilinear'),
                     ScaleIntensityRanged(keys='img', a_min=-1000, a_max=1000, b_min=-1, b_max=1, clip=True),
                     ResizeWithPadOrCropd(keys='img', spatial_size=(480, 480, 240), value=-1)])
        run = lambda: t({'img': str(path)})['img']
    base = proc_status_mb('VmHWM')
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter(); x = run(); sync(); times.append(time.perf_counter() - t0)
        if _ == 0 and out_npy:
            np.save(out_npy, np.asarray(x.detach().cpu().numpy() if hasattr(x, 'detach') else x, np.float32))
        print(f'    {method} run {_ + 1}: {times[-1]:.2f} s', flush=True)
        del x
    gpu = (torch.cuda.max_memory_allocated(dev)/2**20,) if dev.type == 'cuda' else ()
    q.put((min(times), proc_status_mb('VmHWM') - base, *gpu))


def measure(method, path, meta_csv, ctclip, repeat, out_npy=None, device='cpu'):
    return in_fresh_process(_run, method, str(path), str(meta_csv), ctclip, repeat, out_npy, device, label=method)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--ctclip', help="a checkout of the CT-CLIP repository (outside this project); "
                                     "without it, CT-CLIP's loader is left out")
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--skip-monai', action='store_true')
    ap.add_argument('--device', default='cpu',
                    help="cpu (default); cuda, cuda:1: also ours with the resampling on the GPU")
    args = ap.parse_args()
    import torch
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        ap.error(f'--device {args.device}: torch.cuda.is_available() is False')
    from ct_classifier.core import CTRateLayout
    from ct_classifier.files import save_csv
    from ct_classifier.synthetic import synthetic_tables, _write_volume, _RECON_NOISE
    tmp = Path(tempfile.mkdtemp())
    try:
        shape = (512, 512, 300)
        t = synthetic_tables('train', 1, shape, seed=0)
        i = int(t['metadata'].ZSpacing.notna().to_numpy().argmax()) # CT-CLIP's loader cannot take a blank ZSpacing
        v = t['volumes'].iloc[i]
        paths = {}
        for layout in ('raw', 'fixed'):
            lay = CTRateLayout(tmp/'ct', fixed=layout == 'fixed')
            job = dict(name=v.VolumeName, path=lay.volume_path(v.VolumeName), shape=shape,
                       spacing=(v.xy_spacing, v.xy_spacing, v.z_spacing), labels=t['labels'].iloc[i, 1:].to_numpy(),
                       sides=v.sides, difficulty=.3, seed=(0, 0, int(v.patient), int(v.scan), int(v.recon)),
                       kind=v.kind, noise_sd=_RECON_NOISE[int(v.recon) - 1], layout=layout)
            assert _write_volume(job)[1] is None
            paths[layout] = job['path']
        meta_csv = save_csv(t['metadata'], tmp/'train_metadata.csv')
        in_mb = np.prod(shape)*4/2**20
        print(f'volume {v.VolumeName}: {shape} int16 .nii.gz, '
              f'spacing {v.xy_spacing:.3f}×{v.xy_spacing:.3f}×{v.z_spacing:.3f} mm; '
              f'float32 input {in_mb:.0f} MiB; {os.cpu_count()} cores, repeat {args.repeat}')
        res = {}
        if args.ctclip:
            res['ctclip (v1 file)'] = measure('ctclip', paths['raw'], meta_csv, args.ctclip, args.repeat,
                                              tmp/'ctclip.npy')

        res['ours (v1 file)'] = measure('ours', paths['raw'], meta_csv, args.ctclip, args.repeat, tmp/'ours_v1.npy')
        res['ours (v2 file)'] = measure('ours', paths['fixed'], meta_csv, args.ctclip, args.repeat, tmp/'ours_v2.npy')
        gpu_key = f'ours on {args.device} (v2 file)'
        if args.device != 'cpu':
            res[gpu_key] = measure('ours', paths['fixed'], meta_csv, args.ctclip, args.repeat, tmp/'ours_dev.npy',
                                   args.device)
        if not args.skip_monai:
            res['monai (v2 file)'] = measure('monai', paths['fixed'], meta_csv, args.ctclip, args.repeat)
        for k, (sec, mb, *gpu) in res.items():
            print(f'  {k:<18} {sec:7.2f} s   peak +{mb:6.0f} MiB ({mb/in_mb:.2f}x the float32 input)'
                  + (f'; peak GPU memory allocated: {gpu[0]:,.0f} MiB' if gpu else ''))
        ours = res['ours (v2 file)'][0]
        if args.ctclip:
            ref = np.load(tmp/'ctclip.npy')
            for k in ('ours_v1', 'ours_v2') + (('ours_dev',) if args.device != 'cpu' else ()):
                o = np.load(tmp/f'{k}.npy'); assert o.shape == ref.shape, (o.shape, ref.shape)
                print(f'  max |{k} - ctclip| = {np.abs(o - ref).max():.2e}  (shape {o.shape})')
            print(f"speed-up vs CT-CLIP's loader: {res['ctclip (v1 file)'][0]/ours:.1f}x (target >= 5)")
        if args.device != 'cpu':
            o, c = np.load(tmp/'ours_dev.npy'), np.load(tmp/'ours_v2.npy')
            print(f'  max |ours on {args.device} - ours on the CPU| = {np.abs(o - c).max():.2e}  (shape {o.shape})')
            print(f'{args.device} vs the CPU (ours, v2 file): {res[gpu_key][0]:.2f} s vs {ours:.2f} s '
                  f'-> {ours/res[gpu_key][0]:.1f}x')
        if 'monai (v2 file)' in res:
            print(f"speed-up vs MONAI Compose: {res['monai (v2 file)'][0]/ours:.1f}x (target >= 12)")

        print(f"our peak memory: {res['ours (v2 file)'][1]/in_mb:.2f}x the float32 input (target <= 3)")
    finally:
        shutil.rmtree(tmp)


if __name__ == '__main__': main()
