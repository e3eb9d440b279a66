"""pytest-rnnbench: performance regression testing of LSTM training across Keras backends."""

__version__ = "0.2.0"
