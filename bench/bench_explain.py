"""Benchmark: saliency maps (07b_explain) for a batch of volumes of the `cnn` profile (1×112×240×240) on the CPU.

(a) Grad-CAM on a ResNet-18 (`create_model({'family': 'resnet', 'variant': '18'})`, random weights: the timing does not
    depend on their values), a batch of `--volumes` volumes (default 8), one label:
    - ours: `explain(model, batch, label)`, one call for the batch: one forward pass (input channels-last) in which
      autograd records nothing before the last stage (a hook makes its output a leaf, the parameters are frozen for
      the call), then a backward pass through the head only. Also with 3 labels from the same forward pass, and with
      `amp='bf16'` (autocast; fast on a GPU or a CPU with AMX, slow on one without bfloat16 units).
    - the floor: predicting the batch (`model(batch)` without gradients, float32, the default memory layout, as
      `inference.predict` does); the ratio says what a map costs next to a prediction.
    - MONAI: `monai.visualize.GradCAM(model, target_layers='blocks.7')` with its defaults, called once per volume (as
      its users explain a validation set): a forward and a full backward pass through the network per call.
      Both give the same maps (07b tests it); the model is in eval mode for both.
(b) Occlusion sensitivity on the same network, `--occ-volumes` volumes (default 2; every box is a forward pass of the
    whole network, so a batch of 8 takes minutes), boxes of `--occ-patch` voxels that tile the volume (stride = patch),
    filled with the volume's mean:
    - ours: `explain(..., method='occlusion', patch=P, stride=P, batch_size=4)`, all volumes in one call;
    - MONAI: `OcclusionSensitivity(model, mask_size=P, overlap=0, mode='mean_img', n_batch=4, verbose=False)` once
      per volume (it takes batches of one volume only). Its default (16-voxel Gaussian masks, overlap 0.6) would
      take the number of forward passes printed below per volume, and is not run.

Inputs are synthetic volumes from the package's generator, preprocessed to the `cnn` profile. Each measurement is
the best of `--repeats` runs (default 2), after an untimed warm-up call on one volume: on a shared machine the first
call of a size also pays for the allocator's first touch of gigabytes. `torch.get_num_threads()` threads (all cores
by default; OMP_NUM_THREADS=1 for one).

`--device cuda` runs the maps on the GPU (bench/gpu_check.sh does); the volumes are made on the CPU either way.

Run from the repository root:  python bench/bench_explain.py [--device cpu] [--volumes 8] [--occ-volumes 2] \
[--occ-patch 56 120 120] [--repeats 2] [--skip-monai] [--skip-bf16]
"""
import argparse, math, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import torch

from _fresh import cpu_line
from ct_classifier.core import LABELS
from ct_classifier.config import ModelConfig
from ct_classifier.models import create_model
from ct_classifier.findings import render_volume
from ct_classifier.volumes import Volume, preprocess_volume
from ct_classifier.explain import explain


def volumes(n):
    ("n synthetic chest volumes (each with every finding, 300 × 300 × 120 voxels of 1.2 × 1.2 × 3 mm) "
     "at the `cnn` profile.")
    out = []
    for i in range(n):
        hu = render_volume((300, 300, 120), (1.2, 1.2, 3.), labels=np.ones(len(LABELS)), difficulty=0.,
                           seed=(0, 1, i, 0, 1))
        out.append(preprocess_volume(Volume(hu, (1.2, 1.2, 3.), np.diag([-1.2, -1.2, 3., 1.]), f'synthetic_{i}'),
                                     'cnn'))
    return torch.stack(out)


REPEATS, DEVICE = 2, torch.device('cpu')

def timed(f):
    "(best time of REPEATS calls of f, the result of the last)."
    best = math.inf
    for _ in range(REPEATS):
        t = time.perf_counter(); r = f()
        if DEVICE.type == 'cuda': torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best, r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--volumes', type=int, default=8)
    ap.add_argument('--occ-volumes', type=int, default=2)
    ap.add_argument('--occ-patch', type=int, nargs=3, default=[56, 120, 120])
    ap.add_argument('--repeats', type=int, default=2)
    ap.add_argument('--skip-monai', action='store_true')
    ap.add_argument('--skip-bf16', action='store_true',
                    help='skip the amp="bf16" run (slow on a CPU without bfloat16 units)')
    ap.add_argument('--device', default='cpu', help='cpu, cuda or cuda:1 (default: cpu)')
    a = ap.parse_args()
    global REPEATS, DEVICE; REPEATS, DEVICE = a.repeats, torch.device(a.device)
    if DEVICE.type == 'cuda' and not torch.cuda.is_available():
        sys.exit(f'--device {a.device}: torch.cuda.is_available() is False (no GPU here)')
    cpu, load = cpu_line()
    print(f'machine: {cpu}; {torch.get_num_threads()} torch threads; torch {torch.__version__}; {load} at the start')
    t = time.perf_counter(); x = volumes(a.volumes); t = time.perf_counter() - t
    print(f'{a.volumes} synthetic volumes rendered and preprocessed to (1, 112, 240, 240) in {t:.1f} s')
    torch.manual_seed(0)
    net = create_model(ModelConfig('resnet', '18')).eval().to(DEVICE)
    x = x.to(DEVICE)
    label = LABELS.index('Lung nodule')
    explain(net, x[:1], label)                                                                  # warm-up
    with torch.no_grad(): net(x[:1])
    def predict():
        with torch.no_grad(): return net(x)
    t_pred, _ = timed(predict)
    t_ours, m = timed(lambda: explain(net, x, label))
    t_ours3, _ = timed(lambda: explain(net, x, [label, 1, 2]))
    print(f'(a) Grad-CAM, ResNet-18, {a.volumes} volumes: ours {t_ours:.1f} s '
          f'(one call; {t_ours/a.volumes:.2f} s per volume); 3 labels in one call {t_ours3:.1f} s')
    print(f'    predicting the same batch '
          f'(one forward pass without gradients, the default memory layout, float32, as predict does): '
          f'{t_pred:.1f} s; the maps cost {t_ours/t_pred:.2f}x a prediction')
    if not a.skip_bf16:
        explain(net, x[:1], label, amp='bf16')                                                  # warm-up
        t_bf, mb = timed(lambda: explain(net, x, label, amp='bf16'))
        r = min(np.corrcoef(p.flatten(), q.flatten())[0, 1] for p, q in zip(m.cpu(), mb.cpu()))
        print(f'    ours with amp="bf16": {t_bf:.1f} s ({t_bf/a.volumes:.2f} s per volume), '
              f'{t_ours/t_bf:.2f}x float32; correlation with the float32 maps {r:.4f} or more')
    if not a.skip_monai:
        from monai.visualize import GradCAM
        cam = GradCAM(net, target_layers='blocks.7')
        cam(x[:1], class_idx=label)                                                             # warm-up
        t_monai, mm = timed(lambda: torch.cat([cam(x[i:i+1], class_idx=label) for i in range(a.volumes)]))
        print(f'    MONAI GradCAM per volume (defaults): {t_monai:.1f} s ({t_monai/a.volumes:.2f} s per volume): '
              f'ours is {t_monai/t_ours:.1f}x faster; '
              f'3 labels: MONAI needs 3 calls per volume, about {3*t_monai:.0f} s, {3*t_monai/t_ours3:.1f}x')
    n, P = a.occ_volumes, tuple(a.occ_patch)
    boxes = math.prod(math.ceil(s/p) for s, p in zip(x.shape[2:], P))
    t_occ, _ = timed(lambda: explain(net, x[:n], label, 'occlusion', patch=P, stride=P, batch_size=4))
    print(f'(b) occlusion, ResNet-18, boxes {P} (stride = box, {boxes} boxes + 1 pass per volume), {n} volumes: '
          f'ours {t_occ:.1f} s ({t_occ/n:.1f} s per volume)')
    if not a.skip_monai:
        from monai.visualize import OcclusionSensitivity
        occ = OcclusionSensitivity(net, mask_size=P, n_batch=4, verbose=False, mode='mean_img', overlap=0.)
        t_mocc, _ = timed(lambda: [occ(x[i:i+1]) for i in range(n)])
        print(f'    MONAI OcclusionSensitivity per volume, same boxes: {t_mocc:.1f} s: '
              f'ours is {t_mocc/t_occ:.1f}x faster')
    default = math.prod(math.ceil((s - 16)/(16*(1 - .6))) + 1 for s in x.shape[2:])
    print(f'    MONAI OcclusionSensitivity defaults (16-voxel masks, overlap 0.6): '
          f'{default} forward passes per volume (not run)')
    if DEVICE.type == 'cuda':
        print(f'peak GPU memory: {torch.cuda.max_memory_allocated()/2**30:.2f} GiB '
              f'({torch.cuda.get_device_name(DEVICE)})')


    print(f'{cpu_line()[1]} at the end')


if __name__ == '__main__': main()
