"""Training links: the experiment link's network plus the training keys, canonical both ways."""

from __future__ import annotations

import pytest

from app import train_codec
from app.engine.params import ConfigError
from app.train_presets import TRAIN_PRESETS

BOOK = "depth=4&run=relu,normal,std:0.01&run=relu,xavier&run=relu,he_normal"


def test_train_codec_book_defaults() -> None:
    training = train_codec.decode(BOOK)
    for config in training.runs:
        assert config.data == "mnist" and config.run.input_dim == 784
        assert config.run.widths == (100, 100, 100, 100) and config.run.bias == "zeros"
        assert (config.optimizer, dict(config.optimizer_params)) == ("sgd", {"lr": 0.01})
        assert (config.batch_size, config.iterations) == (128, 2000)
        assert config.captures == (0, 500, 1000, 2000)
    assert train_codec.encode(training) == BOOK


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        (  # defaults spelled out are left out; key order is the codec's
            "iterations=2000&opt=sgd&lr=0.01&batch=128&data=mnist&bias=zeros&width=100-100-100-100"
            "&run=relu,he_normal",
            "depth=4&run=relu,he_normal",
        ),
        ("width=50&opt=adam&lr=0.1&iterations=300&run=relu,he_normal", None),
        (  # one optimizer per run, parameters where they differ from the optimizer's defaults
            "width=20&run=relu,he_normal,opt:momentum,momentum:0.5&run=tanh,xavier,opt:adam",
            None,
        ),
        ("data=synthetic&bias=none&width=20&captures=0-10&record_every=5&run=tanh,xavier", None),
        ("width=20&batch_seed=3&probe=200&batch=32&run=relu,he_normal", None),
        # a binary classifier: its loss and two digits (0-1 is the default pair, never written)
        ("digits=9-4&loss=bce&width=20&run=tanh,xavier", "width=20&loss=bce&digits=9-4&run=tanh,xavier"),
        ("loss=bce&digits=0-1&width=20&run=tanh,xavier", "width=20&loss=bce&run=tanh,xavier"),
        ("loss=softmax&width=20&run=tanh,xavier", "width=20&run=tanh,xavier"),
        ("data=synthetic&loss=bce&width=20&run=tanh,xavier", None),
    ],
)
def test_train_codec_round_trips(query: str, canonical: str | None) -> None:
    training = train_codec.decode(query)
    text = train_codec.encode(training)
    if canonical is not None:
        assert text == canonical
    assert train_codec.decode(text) == training
    assert train_codec.encode(train_codec.decode(text)) == text


def test_train_codec_shared_optimizer_applies_to_every_run_a_run_may_override() -> None:
    training = train_codec.decode("width=20&opt=adam&lr=0.01&run=relu,he_normal&run=relu,he_normal,lr:0.1")
    assert [c.optimizer for c in training.runs] == ["adam", "adam"]
    assert [dict(c.optimizer_params)["lr"] for c in training.runs] == [0.01, 0.1]


@pytest.mark.parametrize("name", list(TRAIN_PRESETS))
def test_train_codec_presets_are_canonical(name: str) -> None:
    preset = TRAIN_PRESETS[name]
    assert train_codec.encode(preset.training) == preset.query


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("grad=1&run=relu,he_normal", "grad"),
        ("axes=run&run=relu,he_normal", "axes"),  # an experiment's histogram setting, no training's
        ("data=cifar&run=relu,he_normal", "data"),
        ("iterations=0&run=relu,he_normal", "iterations"),
        ("iterations=ten&run=relu,he_normal", "iterations"),
        ("batch=2&batch=3&run=relu,he_normal", "batch"),
        ("opt=lbfgs&run=relu,he_normal", "opt"),
        ("run=relu,he_normal,opt:lbfgs", "runs[0].opt"),
        ("lr=20&run=relu,he_normal", "lr"),
        ("run=relu,he_normal,lr:-1", "runs[0].lr"),
        ("run=relu,he_normal,momentum:0.5", "runs[0].momentum"),
        ("captures=0-5000&iterations=100&run=relu,he_normal", "captures"),
        ("width=0&run=relu,he_normal", "width"),
        ("depth=2", "runs"),
        ("preset=saito-compare", "preset"),  # experiment presets are no training's
        ("preset=saito-compare&run=relu,he_normal", "preset"),
        ("loss=hinge&run=relu,he_normal", "loss"),
        ("loss=mse&run=relu,he_normal", "loss"),  # the experiment's backward signal, no training loss
        ("loss=bce&loss=bce&run=relu,he_normal", "loss"),
        ("digits=4-9&run=relu,he_normal", "digits"),  # two digits, but softmax over all ten
        ("data=synthetic&loss=bce&digits=4-9&run=relu,he_normal", "digits"),
        ("loss=bce&digits=4&run=relu,he_normal", "digits"),
        ("loss=bce&digits=4-9-1&run=relu,he_normal", "digits"),
        ("loss=bce&digits=4-4&run=relu,he_normal", "digits"),
        ("loss=bce&digits=4-10&run=relu,he_normal", "digits"),
        ("loss=bce&digits=four-9&run=relu,he_normal", "digits"),
        ("run=relu,he_normal,loss:bce", "runs[0].loss"),  # shared only: one task for every run
    ],
)
def test_train_codec_errors_name_the_field(query: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        train_codec.decode(query)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("loss=hinge&run=relu,he_normal", "must be one of softmax, bce"),
        ("loss=bce&digits=4-10&run=relu,he_normal", "between 0 and 9"),
        ("loss=bce&digits=4-4&run=relu,he_normal", "two different digits"),
        ("loss=bce&digits=4&run=relu,he_normal", "must be two digits"),
        ("digits=4-9&run=relu,he_normal", "loss=bce"),
    ],
)
def test_train_codec_loss_errors_say_the_limit(query: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        train_codec.decode(query)
    assert words in caught.value.message


def test_train_codec_links_without_a_loss_mean_what_they_meant() -> None:
    # Every link from before `loss`: softmax over the ten digits, the same config and the same bytes.
    for preset in TRAIN_PRESETS.values():
        training = train_codec.decode(preset.query)
        assert "loss=" in preset.query or all(
            (c.loss, c.digits, c.outputs) == ("softmax", None, 10) for c in training.runs
        )
        assert train_codec.encode(training) == preset.query
    [config] = train_codec.decode("loss=bce&width=20&run=tanh,xavier").runs
    assert (config.loss, config.digits, config.classes, config.outputs) == ("bce", (0, 1), 2, 1)
