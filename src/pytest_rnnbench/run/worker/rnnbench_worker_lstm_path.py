"""Which LSTM kernel a Keras 3 backend actually ran: its fused (cuDNN) kernel or a generic loop.

Keras 3's LSTM layer (keras/src/layers/rnn/lstm.py, LSTM.inner_loop) first offers every call to
the backend's fused kernel, `keras.src.backend.lstm`, which it looks up at call time. The
tensorflow and jax backends return the outputs of their cuDNN kernel, or raise
NotImplementedError when they cannot use it (no GPU, unroll=True, a mask, activations cuDNN lacks),
and the layer then runs its generic loop. The torch backend's `lstm` returns either way: from
`_cudnn_lstm`, or from its own fallback loop when cuDNN is not usable or fails. So during the
warm-up the worker wraps `lstm` and, where the backend's module has one, `_cudnn_lstm`, and
records what each call did; the timed epochs run unwrapped.

(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

import sys


class LstmObserver(object):
    """A context manager: within it the backend's fused LSTM hooks are wrapped and every call's
    outcome is recorded; `kernel()` sums them up for the result's `run.lstm_kernel`."""

    def __init__(self):
        self.calls = []  # one {"kernel": ..., "why": ...} per call of the backend's lstm
        self._patched = []  # (owner, attribute, original), undone on exit
        self._cudnn = None  # during one lstm call: None (not called), True (returned), False
        self._module = None

    def __enter__(self):
        import keras.src.backend as api

        fused = getattr(api, "lstm", None)
        if fused is None:
            return self
        self._module = sys.modules.get(getattr(fused, "__module__", None))
        self._patch(api, "lstm", self._wrap_lstm(fused))
        cudnn = getattr(self._module, "_cudnn_lstm", None)
        if cudnn is not None:
            self._patch(self._module, "_cudnn_lstm", self._wrap_cudnn(cudnn))
        return self

    def __exit__(self, *exc_info):
        for owner, attribute, original in reversed(self._patched):
            setattr(owner, attribute, original)
        self._patched = []
        return False

    def _patch(self, owner, attribute, replacement):
        self._patched.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, replacement)

    def _wrap_cudnn(self, cudnn):
        def observed_cudnn_lstm(*args, **kwargs):
            self._cudnn = False
            out = cudnn(*args, **kwargs)
            self._cudnn = True
            return out

        return observed_cudnn_lstm

    def _wrap_lstm(self, fused):
        name = "%s.%s" % (fused.__module__, fused.__name__)
        has_cudnn_hook = hasattr(self._module, "_cudnn_lstm")

        def observed_lstm(*args, **kwargs):
            if in_shape_inference():
                # Keras working out output shapes (torch: on its "meta" device, where the
                # backend always takes its fallback loop): no kernel ran for real.
                return fused(*args, **kwargs)
            self._cudnn = None
            try:
                out = fused(*args, **kwargs)
            except NotImplementedError as exc:
                why = "; ".join(declined_reasons(self._module, exc, args, kwargs))
                self._record(
                    "generic",
                    "%s declined (%s); Keras ran its generic loop" % (name, why),
                    loop="keras",
                )
                raise
            if has_cudnn_hook and self._cudnn is not True:
                if self._cudnn is False:
                    how = "its cuDNN kernel failed"
                else:
                    how = "; ".join(hindrances(self._module, args, kwargs) or ["cuDNN not usable"])
                # Its own loop, not Keras's: torch's ignores `unroll` (an "unroll" case does not
                # measure Keras's unrolled loop there).
                self._record(
                    "generic",
                    "%s returned its own fallback loop (%s)" % (name, how),
                    loop="backend",
                )
            else:
                self._record("fused", "%s ran its fused cuDNN kernel" % name, loop="fused")
            return out

        return observed_lstm

    def _record(self, kernel, why, loop):
        self.calls.append({"kernel": kernel, "why": why, "loop": loop})

    def kernel(self):
        """{"kernel": "fused" | "generic" | "mixed", "loop": "fused" | "backend" | "keras" |
        "mixed", "why": ..., "observed": True}: what the warm-up's calls did (calls that differ,
        e.g. per replica, are "mixed"). `loop` says whose loop ran a generic kernel: the
        backend's own fallback, or Keras's (after the backend declined)."""
        if not self.calls:
            why = "the backend's fused lstm was not called during the warm-up"
            return {"kernel": "generic", "loop": "keras", "why": why, "observed": True}
        distinct = []
        for call in self.calls:
            if call not in distinct:
                distinct.append(call)
        kernels = set(call["kernel"] for call in distinct)
        loops = set(call["loop"] for call in distinct)
        return {
            "kernel": kernels.pop() if len(kernels) == 1 else "mixed",
            "loop": loops.pop() if len(loops) == 1 else "mixed",
            "why": " | ".join(call["why"] for call in distinct),
            "observed": True,
        }


def in_shape_inference():
    """Whether Keras is only inferring shapes (compute_output_spec's symbolic scope)."""
    try:
        from keras.src.backend.common.symbolic_scope import in_symbolic_scope
    except ImportError:  # a Keras without it: every call counts, as before
        return False
    return bool(in_symbolic_scope())


def declined_reasons(module, exc, args, kwargs):
    """Why the backend's fused lstm raised NotImplementedError: its message, and what hindered
    cuDNN (the backends mostly raise it without a message)."""
    reasons = hindrances(module, args, kwargs)
    if not reasons and not str(exc):
        reasons.append("cuDNN cannot take the layer's activations or bias")
    return ["NotImplementedError: %s" % exc if str(exc) else "NotImplementedError"] + reasons


def hindrances(module, args, kwargs):
    """What, among the call's arguments and the backend module's own GPU check, keeps cuDNN out."""
    found = []
    if kwargs.get("unroll"):
        found.append("unroll=True")
    mask = args[3] if len(args) > 3 else kwargs.get("mask")
    if mask is not None:
        found.append("the input has a mask")
    for check in ("_is_gpu_available", "_is_cuda_cudnn_available"):
        if hasattr(module, check):
            try:
                if not getattr(module, check)():
                    found.append("no GPU that cuDNN can use")
            except Exception:  # a check that fails says nothing either way
                pass
            break
    return found
