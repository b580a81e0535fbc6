"""Benchmark: one full-size CTViT forward pass (1×1×240×480×480 → 1×24×24×24×512) on the CPU, ours vs CT-CLIP's.

Both run the same random weights (CT-CLIP's v2 configuration, built once and saved) on the same random input in
[-1, 1], in eval mode under `torch.no_grad()`, as CT-CLIP's inference scripts call it:
  - ours: `ct_classifier.ctvit.CTViT`;
  - CT-CLIP's: `CTViT` from `transformer_maskgit/ctvit.py` of a checkout of github.com/ibrahimethemhamamci/CT-CLIP
    kept outside this project (`--ctclip PATH`), imported from a patched temporary copy (hard-coded cuda device
    replaced by the CPU, torchvision stubbed; see `bench/compare_ctvit.py`). Needs vector-quantize-pytorch==1.1.2,
    einops and beartype.
Each method runs in a fresh process (`--rounds` times, alternating, since other work on a shared machine slows
whichever runs at the time): time is the best of `--repeat` forward passes over all rounds (the first pass of the
first round is printed too), peak memory is the process's peak RSS during the passes (VmHWM, reset before them)
above its RSS once the model and the input are loaded. The outputs of the two are compared (max abs difference of
the quantised tokens and of the tokens before quantisation, number of differing code indices).

Run from the repository root:  python bench/bench_ctvit.py --ctclip /path/to/CT-CLIP [--repeat 3] [--rounds 2]
"""
import argparse, os, shutil, sys, tempfile, time
from pathlib import Path

from _fresh import in_fresh_process, proc_status_mb, reset_peak

CFG = dict(dim=512, codebook_size=8192, image_size=480, patch_size=20, temporal_patch_size=10, spatial_depth=4,
           temporal_depth=4, dim_head=32, heads=8)


def _run(method, weights, inp, ctclip, repeat, out_dir, q):
    import torch
    sys.path.insert(0, str(Path(__file__).parent))
    sd = torch.load(weights, map_location='cpu', weights_only=True)
    x = torch.load(inp, map_location='cpu', weights_only=True)
    seen = []
    if method == 'ours':
        from ct_classifier.ctvit import CTViT
        m = CTViT(**CFG)
        hook = m.vq.register_forward_pre_hook(lambda mod, a: seen.append(a[0]))
        run = lambda: m(x)
    else:
        from compare_ctvit import import_ctclip_ctvit
        m = import_ctclip_ctvit(ctclip)(**CFG)
        hook = m.vq.register_forward_pre_hook(lambda mod, a: seen.append(a[0]))
        run = lambda: m(x, return_encoded_tokens=True)
    m.load_state_dict(sd); m.eval(); del sd
    times = []
    reset = reset_peak()
    base = proc_status_mb('VmRSS') if reset else proc_status_mb('VmHWM')
    with torch.no_grad():
        for i in range(repeat):
            t0 = time.perf_counter(); y = run(); times.append(time.perf_counter() - t0)
            if i == 0:
                hook.remove()
                if out_dir: torch.save({'out': y, 'pre': seen[0].reshape(y.shape)}, Path(out_dir)/f'{method}.pt')
                seen.clear()
            print(f'    {method} pass {i + 1}: {times[-1]:.2f} s', flush=True)
            del y
    q.put((times, proc_status_mb('VmHWM') - base, base))


def measure(method, weights, inp, ctclip, repeat, out_dir=None):
    return in_fresh_process(_run, method, str(weights), str(inp), ctclip, repeat, out_dir and str(out_dir), label=method)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--ctclip', required=True, help='a checkout of the CT-CLIP repository (outside this project)')
    ap.add_argument('--repeat', type=int, default=3, help='forward passes per process')
    ap.add_argument('--rounds', type=int, default=2, help='fresh processes per method, alternating')
    args = ap.parse_args()
    import torch
    from ct_classifier.ctvit import CTViT
    tmp = Path(tempfile.mkdtemp())
    try:
        torch.manual_seed(0)
        torch.save(CTViT(**CFG).state_dict(), tmp/'weights.pt') # random weights, loaded by both
        g = torch.Generator().manual_seed(1)
        torch.save(torch.rand(1, 1, 240, 480, 480, generator=g)*2 - 1, tmp/'input.pt')
        print(f'CTViT forward, input (1, 1, 240, 480, 480) float32; torch {torch.__version__}, {os.cpu_count()} cores, '
              f'{torch.get_num_threads()} threads; repeat {args.repeat}, rounds {args.rounds}')
        res = {'ctclip': [], 'ours': []}
        for r in range(args.rounds):
            for method in ('ctclip', 'ours'):
                res[method].append(measure(method, tmp/'weights.pt', tmp/'input.pt', args.ctclip, args.repeat, tmp if r == 0 else None))
        summary = {}
        for method, runs in res.items():
            best, first, peak = min(min(t) for t, _, _ in runs), runs[0][0][0], max(p for _, p, _ in runs)
            summary[method] = best
            label = "CT-CLIP's CTViT" if method == 'ctclip' else 'ours'
            print(f'  {label:16s} best {best:6.2f} s   first pass {first:6.2f} s   peak memory +{peak:6.0f} MiB '
                  f'(above {runs[0][2]:.0f} MiB with model and input loaded)')
        a, b = torch.load(tmp/'ctclip.pt', weights_only=True), torch.load(tmp/'ours.pt', weights_only=True)
        same = (a['out'] == b['out']).all(-1)
        print(f'  max |ours - CT-CLIP|: quantised tokens {(a["out"] - b["out"]).abs().max().item():.1e}, '
              f'tokens before quantisation {(a["pre"] - b["pre"]).abs().max().item():.1e}; '
              f'code indices differing: {int((~same).sum())} of {same.numel()}')
        ratio = summary['ctclip']/summary['ours']
        print(f"speed-up vs CT-CLIP's CTViT: {ratio:.2f}x (target >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'})")
    finally:
        shutil.rmtree(tmp)


if __name__ == '__main__': main()
