"""Benchmark: training a head on CT-CLIP latents, from the embedding cache vs running the frozen encoder every epoch.

The reference pipeline's way (CT-CLIP's linear probe): every epoch, every cached volume goes through the frozen
full-size encoder (CTViT, mean over depth, to_visual_latent, l2norm) and then the head, which is the only part that
trains. Ours: `embed_cache` encodes each volume once; every epoch then trains the same head on the stored latents
(`fit_head`). Both use the same full-size `CTClipClassifier` (random weights with CT-CLIP's shapes: the timing does
not depend on the values) and the same cache of synthetic volumes preprocessed to CT-CLIP's 1×240×480×480.

On CUDA (`--device cuda`) the reference epoch runs in float32 (plain autograd, as here on the CPU) and `embed_cache`
under its bf16 autocast; the timers wait for the GPU (`torch.cuda.synchronize`), and the last line gives the peak
`torch.cuda.max_memory_allocated`.

Run from the repository root:  python bench/bench_embed.py [--volumes 4] [--epochs 10] [--device cpu]
"""
import argparse, shutil, tempfile, time, warnings
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--volumes', type=int, default=4, help='volumes in the training split')
    ap.add_argument('--epochs', type=int, default=10, help='epochs for the totals (the reference epoch is timed once)')
    ap.add_argument('--device', default='cpu')
    args = ap.parse_args()
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        ap.error(f'--device {args.device}: torch.cuda.is_available() is False')
    warnings.filterwarnings('ignore')
    from ct_classifier.core import CTRateLayout
    from ct_classifier.synthetic import make_synthetic_ct_rate
    from ct_classifier.cache import cache_folder, generate_cache
    from ct_classifier.data import CachedVolumeDataset, EmbeddingDataset, to_model_input
    from ct_classifier.ctclip import CTClipClassifier
    from ct_classifier.embeddings import embed_cache, fit_head
    dev = torch.device(args.device)
    tmp = Path(tempfile.mkdtemp())
    try:
        make_synthetic_ct_rate(tmp/'ct', n_train_patients=args.volumes, n_valid_patients=1, progress=False)
        lay = CTRateLayout(tmp/'ct')
        split = pd.read_csv(lay.labels_csv('train')).merge(pd.read_csv(lay.metadata_csv('train')), on='VolumeName')
        split = split[split.ZSpacing.notna()].head(args.volumes).reset_index(drop=True)
        generate_cache(split, tmp/'ct', tmp/'cache', 'ctclip', progress=False)
        cache = cache_folder(tmp/'cache', 'ctclip')
        torch.manual_seed(0)
        model = CTClipClassifier(head='new').to(dev)
        n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(f'{len(split)} volumes of 1×240×480×480; full-size CTClipClassifier, '
              f'{n_train:,} trainable parameters (the head); device {dev}, {torch.get_num_threads()} threads')

        # the reference way: one epoch, the frozen encoder runs on every volume
        ds = CachedVolumeDataset(split, cache)
        dl = torch.utils.data.DataLoader(ds, batch_size=1, shuffle=True)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        if dev.type == 'cuda': # untimed warm-up on the GPU (CUDA context, kernels), as the CPU needs none
            with torch.no_grad(): model.encode_latents(to_model_input(ds[0][0][None], dev))
            torch.cuda.synchronize(dev)
        model.train()
        t = time.perf_counter()
        for x, y in dl:
            loss = F.binary_cross_entropy_with_logits(model(to_model_input(x, dev)), y.to(dev))
            opt.zero_grad(); loss.backward(); opt.step()
        if dev.type == 'cuda': torch.cuda.synchronize(dev)
        ref_epoch = time.perf_counter() - t

        # ours: encode once, then epochs on the stored latents
        t = time.perf_counter()
        s = embed_cache(split, cache, model, tmp/'emb', device=dev, progress=False)
        encode_once = time.perf_counter() - t
        assert s.written == len(split) and not s.failed, s
        eds = EmbeddingDataset(split, s.folder)
        fit_head(model.head, eds, epochs=1, batch_size=1) # warm-up
        t = time.perf_counter()
        fit_head(model.head, eds, epochs=args.epochs, batch_size=1)
        ours_epoch = (time.perf_counter() - t)/args.epochs

        E = args.epochs
        print(f'reference (encoder every epoch): {ref_epoch:.2f} s per epoch ({ref_epoch/len(split):.2f} s per volume)')
        print(f'ours: encode once {encode_once:.2f} s, then {ours_epoch*1000:.2f} ms per epoch')
        print(f'per-epoch ratio: {ref_epoch/ours_epoch:,.0f}x')
        print(f'{E} epochs in total: reference {E*ref_epoch:.1f} s, ours {encode_once + E*ours_epoch:.1f} s '
              f'-> {E*ref_epoch/(encode_once + E*ours_epoch):.1f}x')
        if dev.type == 'cuda':
            print(f'peak GPU memory allocated: {torch.cuda.max_memory_allocated(dev)/2**20:,.0f} MiB '
                  f'({torch.cuda.get_device_name(dev)}, torch {torch.__version__}, CUDA {torch.version.cuda})')

    finally:
        shutil.rmtree(tmp)


if __name__ == '__main__': main()
