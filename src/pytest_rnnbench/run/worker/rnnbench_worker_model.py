"""The seed's model, built the same way under Keras 3 and under Keras-MXNet's Keras 2.2.

(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

from rnnbench_worker_backend import keras_major


def build_model(keras, timesteps, vocab, unroll):
    """The seed's model: LSTM(128) + Dense(vocab, softmax), RMSprop(0.01), categorical
    cross-entropy."""
    from keras.layers import LSTM, Dense
    from keras.models import Sequential

    model = Sequential()
    if keras_major(keras) >= 3:
        model.add(keras.Input(shape=(timesteps, vocab)))
        model.add(LSTM(128, unroll=unroll))
        optimizer = keras.optimizers.RMSprop(learning_rate=0.01)
    else:
        model.add(LSTM(128, input_shape=(timesteps, vocab), unroll=unroll))
        optimizer = keras.optimizers.RMSprop(lr=0.01)
    model.add(Dense(vocab, activation="softmax"))
    return model, optimizer


def fit_kwargs(keras):
    """The arguments of every `fit`: silent, shuffled (as the seed trained)."""
    return {"verbose": 0, "shuffle": True}
