"""Shared by the benchmark scripts: the CPU they ran on, a measurement in a fresh process, its memory from /proc."""
import multiprocessing as mp, os, platform, resource, traceback


def cpu_line() -> str:
    ("CPU model and its AVX2 / AVX-512 support, the number of cores, and the load average: "
     "the part of every benchmark's machine line.")
    model, flags = platform.processor() or '?', set()
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'): model = line.split(':', 1)[1].strip()
            elif line.startswith('flags'): flags = set(line.split(':', 1)[1].split())
    except OSError: pass
    simd = ', '.join(f for f, k in (('AVX2', 'avx2'), ('AVX-512', 'avx512f'), ('AVX-512 BF16', 'avx512_bf16'))
                     if k in flags) or 'no AVX2'
    return f'{model} ({simd}), {os.cpu_count()} cores', f'load average {"/".join(f"{v:.2f}" for v in os.getloadavg())}'


def proc_status_mb(field='VmHWM'):
    ("A memory field of /proc/self/status in MiB "
     "(VmHWM: peak RSS; unlike ru_maxrss it does not inherit the parent's peak across exec).")
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'): return int(line.split()[1])/1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024


def reset_peak():
    "Reset VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs); False if not possible."
    try:
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')
        return True
    except OSError: return False


def _call(fn, args, q):
    try: fn(*args, q)
    except BaseException: q.put(traceback.format_exc())


def in_fresh_process(fn, *args, label=''):
    ("Run `fn(*args, queue)` in a freshly spawned process and return what it put on the queue; "
     "its traceback if it failed.")
    ctx = mp.get_context('spawn'); q = ctx.Queue()
    p = ctx.Process(target=_call, args=(fn, args, q))
    p.start(); res = q.get(); p.join()
    if isinstance(res, str): raise RuntimeError(f'{label or fn.__name__} failed in its process:\n{res}')
    return res
