"""The training data. The controller prepared and cached the expensive part (download, index
arrays); here it is only expanded to the one-hot arrays the seed fed its model.

(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

CHUNK_VALUES = 1 << 22  # synthetic values drawn at a time (32 MiB of int64)


def load_data(spec, np):
    """Return float32 one-hot (x, y) as the seed fed them, capped to spec["samples"]."""
    samples = spec["samples"]
    if spec["kind"] == "synthetic":
        # The seed draws random booleans for x and a random multi-hot y; a fixed seed makes every
        # case and every backend train on the same data.
        rng = np.random.RandomState(spec["seed"])
        timesteps, features = spec["timesteps"], spec["features"]
        x = np.empty((samples, timesteps, features), dtype="float32")
        # Drawn in chunks, the same values in the same order as one draw: one draw's int64 array
        # (twice x's size) would set the worker's host memory peak, hiding training's under it.
        per_chunk = max(1, CHUNK_VALUES // (timesteps * features))
        for start in range(0, samples, per_chunk):
            stop = min(samples, start + per_chunk)
            x[start:stop] = rng.randint(0, 2, size=(stop - start, timesteps, features))
        y = rng.randint(0, 2, size=(samples, features)).astype("float32")
        return x, y
    if spec["kind"] == "text":
        with np.load(spec["path"], allow_pickle=False) as arrays:  # data, never pickles
            x_idx = arrays["x"][:samples]
            y_idx = arrays["y"][:samples]
        vocab = spec["vocab"]
        n, timesteps = x_idx.shape
        x = np.zeros((n, timesteps, vocab), dtype="float32")
        x[np.arange(n)[:, None], np.arange(timesteps)[None, :], x_idx] = 1.0
        y = np.zeros((n, vocab), dtype="float32")
        y[np.arange(n), y_idx] = 1.0
        return x, y
    raise ValueError("unknown data kind %r" % (spec["kind"],))
