"""The seed's LSTM benchmark (Keras-MXNet's published RNN results) as pytest-rnnbench cases.

`pytest --rnnbench` parametrizes this test over the matrix (backend x GPUs x batch x unroll x
dataset); each call of `rnnbench()` trains one case for its timed epoch(s) in a worker process.
Write your own benchmarks the same way.
"""

import math
from collections.abc import Callable

from pytest_rnnbench.run.summary import Summary


def test_lstm_training(rnnbench: Callable[[], Summary]) -> None:
    result = rnnbench()
    assert math.isfinite(result.final_loss), f"training diverged: loss {result.final_loss}"
    assert result.samples_per_second > 0
