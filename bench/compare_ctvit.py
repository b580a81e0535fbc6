"""Acceptance check: our CTViT (`ct_classifier.ctvit`) against CT-CLIP's own CTViT, on the same random weights.

CT-CLIP's module is imported from a checkout of github.com/ibrahimethemhamamci/CT-CLIP kept outside this project
(`--ctclip PATH`). Its `transformer_maskgit/transformer_maskgit/{ctvit,attention}.py` are copied into a temporary
folder with the hard-coded `torch.device('cuda')` replaced by the CPU, and torchvision (imported, never used) is
replaced by an empty stand-in module in this process; the checkout itself is not modified and nothing of it is
copied into this repository. It needs `vector-quantize-pytorch==1.1.2`, `einops` and `beartype`
(`pip install --no-deps vector-quantize-pytorch==1.1.2 einops beartype`).

Every tensor of the state dict (gains, scales, the `beta` buffers and the codebook included) gets random values,
so that each quirk matters. For each configuration and input shape it prints the largest absolute difference of
the tokens before quantisation (captured at the input of CT-CLIP's `vq`), of the quantised output, and how many
code indices differ (allowed only where the top-two cosine similarities are within 1e-4 of each other).

Run from the repository root:  python bench/compare_ctvit.py --ctclip /path/to/CT-CLIP [--full]
"""
import argparse, atexit, shutil, sys, tempfile, types, warnings
from pathlib import Path

import torch
import torch.nn.functional as F

CONFIGS = {
    'tiny': (dict(dim=64, codebook_size=512, image_size=80, patch_size=20, temporal_patch_size=10, spatial_depth=2,
                  temporal_depth=2, dim_head=32, heads=4), [(1, 1, 40, 80, 80), (2, 1, 60, 80, 80)]),
    'medium': (dict(dim=128, codebook_size=1024, image_size=160, patch_size=20, temporal_patch_size=10, spatial_depth=2,
                    temporal_depth=3, dim_head=32, heads=4), [(1, 1, 50, 160, 160), (2, 1, 80, 160, 160)]),
    'full': (dict(dim=512, codebook_size=8192, image_size=480, patch_size=20, temporal_patch_size=10, spatial_depth=4,
                  temporal_depth=4, dim_head=32, heads=8), [(1, 1, 240, 480, 480)]),
}


def import_ctclip_ctvit(ctclip, device='cpu'):
    "CT-CLIP's `CTViT` class, from a patched temporary copy of its two files (the checkout is only read)."
    src = Path(ctclip)/'transformer_maskgit'/'transformer_maskgit'
    if not (src/'ctvit.py').is_file():
        raise FileNotFoundError(f'{src}/ctvit.py not found: --ctclip must be a CT-CLIP checkout')
    tmp = Path(tempfile.mkdtemp(prefix='ctclip_copy_'))
    atexit.register(shutil.rmtree, tmp, True)
    pkg = tmp/'transformer_maskgit'
    pkg.mkdir()
    (pkg/'__init__.py').write_text('')
    for f in ('ctvit.py', 'attention.py'):
        (pkg/f).write_text((src/f).read_text().replace("torch.device('cuda')", f'torch.device({device!r})'))
    if 'torchvision' not in sys.modules: # imported by ctvit.py, never used on the encode path
        tv = types.ModuleType('torchvision')
        tv.transforms, tv.utils = types.ModuleType('torchvision.transforms'), types.ModuleType('torchvision.utils')
        sys.modules.update({'torchvision': tv, 'torchvision.transforms': tv.transforms, 'torchvision.utils': tv.utils})
    sys.path.insert(0, str(pkg.parent))
    warnings.filterwarnings('ignore', category=FutureWarning) # torch.cuda.amp.autocast in vector-quantize-pytorch 1.1.2
    from transformer_maskgit.ctvit import CTViT
    return CTViT


def run_ctclip(model, x):
    "CT-CLIP's forward as CT-CLIP calls it; returns (tokens before VQ, quantised tokens)."
    seen = []
    hook = model.vq.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    try: out = model(x, return_encoded_tokens=True)
    finally: hook.remove()
    return seen[0].reshape(out.shape), out


def randomize_(sd, seed, scale=0.1):
    g = torch.Generator().manual_seed(seed)
    for k, t in sd.items():
        if t.is_floating_point() and t.numel() and not k.endswith('initted'):
            t.add_(scale*torch.randn(t.shape, generator=g))
    return sd


def compare(name, ctclip_ctvit, seed=0, tie=1e-4):
    from ct_classifier.ctvit import CTViT
    cfg, shapes = CONFIGS[name]
    torch.manual_seed(seed)
    theirs = ctclip_ctvit(**cfg).eval()
    ours = CTViT(**cfg).eval()
    sd = theirs.state_dict()
    if name != 'full': randomize_(sd, seed) # (at full size: CT-CLIP's own initialisation, to keep values sane)
    ours.load_state_dict(sd) # strict: the same keys and shapes
    g = torch.Generator().manual_seed(seed + 1)
    for shape in shapes:
        x = torch.rand(shape, generator=g)*2 - 1
        with torch.no_grad():
            pre_t, out_t = run_ctclip(theirs, x)
            pre_o, out_o = ours(x, quantize=False), ours(x)
            embed = F.normalize(ours.vq.codebook, dim=-1)
            top2 = (F.normalize(pre_t.reshape(-1, cfg['dim']), dim=-1) @ embed.t()).topk(2, -1).values
        gap = (top2[:, 0] - top2[:, 1]).reshape(out_t.shape[:-1])
        flipped = ~(out_t == out_o).all(-1)
        d_pre = (pre_t - pre_o).abs().max().item()
        d_out = (out_t - out_o)[~flipped].abs().max().item()
        ok = d_pre < 1e-4 and d_out < 1e-4 and bool((gap[flipped] < tie).all())
        print(f'{name:6s} input {str(shape):22s} tokens {str(tuple(out_o.shape)):24s} max |pre-VQ diff| {d_pre:.1e}  '
              f'max |output diff| {d_out:.1e}  indices differing {int(flipped.sum())}/{flipped.numel()}'
              + (f' (top-2 gaps {gap[flipped].max().item():.1e} or less)' if flipped.any() else '')
              + ('  OK' if ok else '  FAIL'))
        if not ok: raise SystemExit(f'{name} {shape}: our CTViT does not match CT-CLIP\'s')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--ctclip', required=True, help='a checkout of the CT-CLIP repository (outside this project)')
    ap.add_argument('--full', action='store_true',
                    help='also compare at full size (1×1×240×480×480; about a minute)')

    args = ap.parse_args()
    ctvit = import_ctclip_ctvit(args.ctclip)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads')
    for name in ['tiny', 'medium'] + (['full'] if args.full else []): compare(name, ctvit)


if __name__ == '__main__': main()
