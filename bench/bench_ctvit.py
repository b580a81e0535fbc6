"""Benchmark: one full-size CTViT forward pass (1×1×240×480×480 → 1×24×24×24×512) on the CPU, \
ours vs CT-CLIP's; ours alone on a GPU.

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

On a GPU (`--device cuda`, ours only; CT-CLIP's module is patched to the CPU): the same forward in float32 or under
bf16 autocast (`--dtype bf16`, as `embed_cache` and the Trainer run it on CUDA), `--batch` volumes per pass; times
are taken after `torch.cuda.synchronize()`, and the peak is `torch.cuda.max_memory_allocated` during the passes above
what the model and the input hold. Without `--ctclip` only ours runs.

Run from the repository root:  python bench/bench_ctvit.py --ctclip /path/to/CT-CLIP [--repeat 3] [--rounds 2]
                               python bench/bench_ctvit.py --device cuda --dtype bf16 [--batch 1]
"""
import argparse, os, shutil, sys, tempfile, time
from pathlib import Path

from _fresh import in_fresh_process, proc_status_mb, reset_peak

CFG = dict(dim=512, codebook_size=8192, image_size=480, patch_size=20, temporal_patch_size=10, spatial_depth=4,
           temporal_depth=4, dim_head=32, heads=8)


def _run(method, weights, inp, ctclip, repeat, out_dir, device, dtype, q):
    import contextlib, torch
    sys.path.insert(0, str(Path(__file__).parent))
    dev = torch.device(device)
    sd = torch.load(weights, map_location='cpu', weights_only=True)
    x = torch.load(inp, map_location='cpu', weights_only=True).to(dev)
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
    cuda = dev.type == 'cuda'
    if cuda: m.to(dev); torch.cuda.synchronize(dev); torch.cuda.reset_peak_memory_stats(dev)
    amp = torch.autocast('cuda', dtype=torch.bfloat16) if cuda and dtype == 'bf16' else contextlib.nullcontext()
    sync = (lambda: torch.cuda.synchronize(dev)) if cuda else (lambda: None)
    times = []
    reset = reset_peak()
    base = proc_status_mb('VmRSS') if reset else proc_status_mb('VmHWM')
    if cuda: base = torch.cuda.memory_allocated(dev)/2**20 # the model and the input on the GPU
    with torch.no_grad(), amp:
        for i in range(repeat):
            t0 = time.perf_counter(); y = run(); sync(); times.append(time.perf_counter() - t0)
            if i == 0:
                hook.remove()
                if out_dir:
                    torch.save({'out': y.cpu(), 'pre': seen[0].reshape(y.shape).cpu()}, Path(out_dir)/f'{method}.pt')
                seen.clear()
            print(f'    {method} pass {i + 1}: {times[-1]:.2f} s', flush=True)
            del y
    if cuda: q.put((times, torch.cuda.max_memory_allocated(dev)/2**20 - base, base))
    else: q.put((times, proc_status_mb('VmHWM') - base, base))


def measure(method, weights, inp, ctclip, repeat, out_dir=None, device='cpu', dtype='float32'):
    return in_fresh_process(_run, method, str(weights), str(inp), ctclip, repeat, out_dir and str(out_dir),
                            device, dtype, label=method)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--ctclip',
                    help='a checkout of the CT-CLIP repository (outside this project); without it, ours alone')
    ap.add_argument('--repeat', type=int, default=3, help='forward passes per process')
    ap.add_argument('--rounds', type=int, default=2, help='fresh processes per method, alternating')
    ap.add_argument('--device', default='cpu',
                    help='cpu (default) or cuda, cuda:1: where ours runs (CT-CLIP\'s only on the CPU)')
    ap.add_argument('--dtype', default='float32', choices=('float32', 'bf16'),
                    help='bf16: under CUDA bf16 autocast (default: float32)')
    ap.add_argument('--batch', type=int, default=1, help='volumes per forward pass (default: 1)')
    args = ap.parse_args()
    import torch
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        ap.error(f'--device {args.device}: torch.cuda.is_available() is False')
    if args.ctclip and args.device != 'cpu':
        ap.error("CT-CLIP's CTViT is patched to run on the CPU: compare with --device cpu, or drop --ctclip")
    if args.dtype == 'bf16' and not args.device.startswith('cuda'):
        ap.error('--dtype bf16 is the CUDA autocast: use it with --device cuda')
    import torch
    from ct_classifier.ctvit import CTViT
    tmp = Path(tempfile.mkdtemp())
    try:
        torch.manual_seed(0)
        torch.save(CTViT(**CFG).state_dict(), tmp/'weights.pt') # random weights, loaded by both
        g = torch.Generator().manual_seed(1)
        torch.save(torch.rand(args.batch, 1, 240, 480, 480, generator=g)*2 - 1, tmp/'input.pt')
        gpu = (f'; {torch.cuda.get_device_name(args.device)}, CUDA {torch.version.cuda}'
               if args.device.startswith('cuda') else '')
        print(f'CTViT forward, input ({args.batch}, 1, 240, 480, 480) float32; '
              f'torch {torch.__version__}, {os.cpu_count()} cores, {torch.get_num_threads()} threads; '
              f'repeat {args.repeat}, rounds {args.rounds}; device {args.device}, {args.dtype}{gpu}')
        res = {'ctclip': [], 'ours': []} if args.ctclip else {'ours': []}
        for r in range(args.rounds):
            for method in res:
                res[method].append(measure(method, tmp/'weights.pt', tmp/'input.pt', args.ctclip, args.repeat,
                                           tmp if r == 0 else None, args.device, args.dtype))
        summary = {}
        for method, runs in res.items():
            best, first, peak = min(min(t) for t, _, _ in runs), runs[0][0][0], max(p for _, p, _ in runs)
            summary[method] = best
            label = "CT-CLIP's CTViT" if method == 'ctclip' else 'ours'
            print(f'  {label:16s} best {best:6.2f} s   first pass {first:6.2f} s   peak memory +{peak:6.0f} MiB '
                  f'(above {runs[0][2]:.0f} MiB with model and input loaded)')
            if args.device.startswith('cuda'):
                print(f'  peak GPU memory allocated: {peak + runs[0][2]:,.0f} MiB '
                      f'(model and input {runs[0][2]:,.0f} MiB + passes {peak:,.0f} MiB; '
                      f'torch.cuda.max_memory_allocated); {args.batch/best:.2f} volumes/s at batch {args.batch}')


        if not args.ctclip: return
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
