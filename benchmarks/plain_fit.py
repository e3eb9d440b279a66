"""A careful hand measurement of one seed case with plain `model.fit`, sharing no plugin code.

The reference that benchmarks/overhead.py and benchmarks/gpu_check.sh hold the plugin against:
its own data preparation (the seed's, written out again), a warm-up fit that compiles both batch
shapes, then --epochs epochs timed
with the device synchronized before and after. Writes one JSON object to --out.

    python benchmarks/plain_fit.py --backend jax --dataset synthetic --batch 128 --unroll \
        --out plain.json
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time
import warnings

# Framework deprecation chatter (MXNet warns once per batch) is not what this script measures.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def seed_text(dataset, data_dir):
    if dataset == "nietzsche":
        with open(os.path.join(data_dir, "nietzsche.txt"), encoding="utf-8") as f:
            return f.read().lower()
    raise SystemExit("plain_fit.py prepares synthetic and nietzsche only")


def seed_data(dataset, data_dir, samples, np):
    if dataset == "synthetic":
        # Same generator and seed as the plugin, so both train on identical arrays.
        rng = np.random.RandomState(1234)
        n = samples or 50000
        x = rng.randint(0, 2, size=(n, 40, 60)).astype("float32")
        y = rng.randint(0, 2, size=(n, 60)).astype("float32")
        return x, y
    text = seed_text(dataset, data_dir)
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    starts = list(range(0, len(text) - 40, 3))[: samples or None]
    x = np.zeros((len(starts), 40, len(chars)), dtype="float32")
    y = np.zeros((len(starts), len(chars)), dtype="float32")
    for i, s in enumerate(starts):
        for t, c in enumerate(text[s : s + 40]):
            x[i, t, index[c]] = 1
        y[i, index[text[s + 40]]] = 1
    return x, y


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", required=True, choices=["tensorflow", "jax", "torch", "mxnet"])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--unroll", action="store_true")
    parser.add_argument("--samples", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs (median reported)")
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("RNNBENCH_DATA_DIR"),
        help="the directory holding nietzsche.txt (default: $RNNBENCH_DATA_DIR)",
    )
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    if args.dataset == "nietzsche" and not args.data_dir:
        raise SystemExit("nietzsche needs --data-dir (or RNNBENCH_DATA_DIR)")
    os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if args.backend == "mxnet":
        # Keras-MXNet (Keras 2.2) imports ABCs from `collections`, which Python 3.10 removed.
        import collections
        import collections.abc

        for name in ("Iterable", "Mapping", "MutableMapping", "Sequence", "Callable"):
            setattr(collections, name, getattr(collections.abc, name))
    import keras
    import numpy as np

    x, y = seed_data(args.dataset, args.data_dir, args.samples, np)
    if args.backend == "mxnet":  # the Keras 2.2 API of the fork
        np.random.seed(1234)
        model = keras.models.Sequential()
        model.add(keras.layers.LSTM(128, unroll=args.unroll, input_shape=x.shape[1:]))
        model.add(keras.layers.Dense(y.shape[1], activation="softmax"))
        model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(lr=0.01))
    else:
        keras.utils.set_random_seed(1234)
        model = keras.Sequential(
            [
                keras.Input(shape=x.shape[1:]),
                keras.layers.LSTM(128, unroll=args.unroll),
                keras.layers.Dense(y.shape[1], activation="softmax"),
            ]
        )
        model.compile(
            loss="categorical_crossentropy",
            optimizer=keras.optimizers.RMSprop(learning_rate=0.01),
        )

    if args.backend == "mxnet":
        import mxnet

        def sync():
            mxnet.nd.waitall()
    elif args.backend == "jax":
        import jax

        def sync():
            jax.block_until_ready([v.value for v in model.variables])
    elif args.backend == "torch":
        import torch

        def sync():
            if torch.cuda.is_available():
                torch.cuda.synchronize()
    else:
        import tensorflow as tf

        def sync():
            tf.test.experimental.sync_devices()

    # Warm-up: a full batch and the epoch's last partial batch, so both shapes are compiled.
    rest = len(x) % args.batch
    warm = args.batch + rest if rest else args.batch
    t0 = time.perf_counter()
    model.fit(x[:warm], y[:warm], batch_size=args.batch, epochs=1, verbose=0)
    sync()
    warmup = time.perf_counter() - t0

    epochs = []
    for _ in range(args.epochs):
        sync()
        t0 = time.perf_counter()
        history = model.fit(x, y, batch_size=args.batch, epochs=1, verbose=0)
        sync()
        epochs.append(time.perf_counter() - t0)
    epoch = statistics.median(epochs)

    peak = {}
    if args.backend == "jax":
        import jax

        stats = [d.memory_stats() or {} for d in jax.devices() if d.platform == "gpu"]
        peak = {"gpu_framework_peak_bytes": sum(s.get("peak_bytes_in_use", 0) for s in stats)}
    elif args.backend == "torch":
        import torch

        if torch.cuda.is_available():
            peak = {"gpu_framework_peak_bytes": torch.cuda.max_memory_allocated()}
    with open(args.out, "w") as f:
        json.dump(
            dict(
                epoch_seconds=epoch,
                epoch_seconds_all=epochs,
                warmup_seconds=warmup,
                samples=len(x),
                keras_file=keras.__file__,
                final_loss=float(history.history["loss"][-1]),
                host_peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                **peak,
            ),
            f,
        )
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
