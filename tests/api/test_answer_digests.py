"""The JSON answer of every preset and of links that reach the engine's edge cases, pinned by sha256.

A share link must give the same bytes in every later version (design.md: stable links), so an
optimization of the engine or of serialization may change how the answer is computed, never what
it is. The digests were computed before issue 14's speed work, by the code of that time. A change
that moves one of them changes what old links show: find another way, or add a format version.
"""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from app import codec
from app.api.runner import compute
from app.api.units_payload import units_answer
from app.engine.network.experiment import spreading
from app.presets import PRESETS

PRESET_DIGESTS = {
    "saito-compare": "ce082df040ba7451be0f8cb9d74ad41e0e6bfccec20bee3edaca99b2ec0dc50c",
    "saito-sigmoid-std1": "249762c5a37f2e3f10d5fc868cb14311adfd300227e9649c9cb2d4ec7b8c738f",
    "saito-sigmoid-std001": "16d9db8f8155ff9dbe43fba520de67cbbdc61b6797531a5f4a2adeffa98704e7",
    "saito-sigmoid-xavier": "e540f7277cf2385d013f3601885f135512aa6063f05543f51e6c615935adf5cb",
    "saito-tanh-xavier": "e1440183c6c2566bb3199d01fb106b2b6ff9e2ade93dbf0d9cb7de4b0e0c0e53",
    "saito-relu-std001": "b829c953d1341c76aa5be15ca206b184bcb0fd6316beca7e101b71dcf4635ce8",
    "saito-relu-xavier": "9d18e6c5bc1f914043f30552e8938b2af00ba91c8b5b148cbc424e4cd8a4597c",
    "saito-relu-he": "270ec29f3a191c28f9799cc7e5943586d62b6e7d346074ce49bd859d3063b5b4",
    "deep-relu-compare": "986c567a09faf2c6fd7fe00ef0e3503af19808413f0c04044ceb5e3de5b32c1d",
    "dead-relu": "d8ff091cf6160d7d1fba7883b2b0b123589e144bcaa094c9fc6d02c0373ad374",
    "vanishing-gradient": "dee0a1875b6b845e4b11c7dddde5a918b47e9df4e51a7f130664f94ebff20692",
    "exploding-relu": "689fd99988743f97839e003cd29da5b1edb5dce45f5b5e18dd82b514823180ef",
    "saturated-tanh": "23ea4e29baf8e79786cc54f98323460b3b9c99039d7b2ace910ca025d5843f9d",
    "nielsen-large": "4a0ba24cfa0c68f37731c9b14512e4494c96204d0e5b49255f7d50399cfb9adc",
    "nielsen-scaled": "d6c31d8931526521816e886a05d6f723860b56576b4d3a8e0455668059296251",
    "nielsen-compare": "ae85b6d97d83a6728b1228046abda857f9ca404e6476997a09daebba03557a11",
    "ng-zero-init": "f9b812cfe5a231804bde921b9a875c981382fc14d74545570b1bd5bd403ecd26",
    "ng-small-init": "341d93fe01ca0f3038e0fd4e6eb27bd45498e715a402e8b75563373aa1bf57a7",
    # added with the training claims; the same digest from the code before issue 14
    "tanh-sigmoid-mean": "1a3898fa81251a97ecf7fbaa6553f6c187f92629a4f5918d87a8c9798fb576cf",
    # added with issue 18's maxout claim
    "maxout-relu-sigmoid": "9cbd7bb21b5dd4961bcbd115fd3f682833e7a0aa0508b95a6fc459b48754dba2",
    # added with issue 15's norms and residual blocks; re-pinned when their answers gained the row
    # table (`rows`) and paired rows (not row indices) began to share histogram ranges: residual-depth
    # gained only `rows` (its runs have the same rows), the others' ranges changed
    "bn-sigmoid": "f5707ac8c06e0cdaf06a176fda6803f80598894a18225b1df67b228f5113dcae",
    "residual-depth": "10ca7d4574bd3a9dfa7648a8909b85d9f479d763fb6211b36fc02439af3f8329",
    "post-vs-pre-norm": "bfa7f9beaece3cd7482f1811cdd0b09f07d31e3c0fa3849045d4f467e6123556",
    "bn-deep-relu": "4019cd2bdfdb87884553e85c2a4c2893f6db170e42ca6f64b0b2ddd5ea193cee",
}

# backward off and on, loss=mse, theory off, per-run axes, explicit ranges (values beyond them,
# and ranges of 1e-5), every activation and initializer, biases and inputs, chunked layers
# (over 2 x 65,536 values), widths lists, 1 and 2,000 bins, one sample of one unit, zero and
# constant weights, gradients vanishing into float32 subnormals and past float64, overflow to
# inf and NaN, forward signals underflowing to 0, runs of different depths
LINK_DIGESTS = [
    (
        "grad=0&run=sigmoid,normal&run=relu,he_normal",
        "e7576231aecb90180f20db277ede86d41b1bce79096709d3c764983b5953095a",
    ),
    (
        "theory=0&run=tanh,xavier&run=relu,he_normal",
        "65c9326d3a96016eb9412a4665959de1251d1df32a3a05135a136a4eb65e7cc2",
    ),
    (
        "axes=run&run=relu,normal,std:0.01&run=relu,he_normal",
        "99bbaaae8b969216015dfd3ea2d2c6e318fcfd99c31a1b97a8f7302bdf4ace60",
    ),
    (
        "range=0,1&axes=run&grad=0&run=sigmoid,normal&run=sigmoid,xavier",
        "e13486221591f5383893cad4c1817b7b0fe5cf7bed7e90f9b21e1e415f1e9198",
    ),
    (
        "range=-0.5,0.5&z_range=-2,2&run=tanh,normal&run=relu,he_normal",
        "1f0ed5c9f1999932c89969872ba4ea40a2773979c7cee2e2b5977e3005348049",
    ),
    (
        "loss=mse&run=relu,he_normal&run=sigmoid,xavier",
        "ad1f42bdfb37d332e20bc2cffcf61aff5a421acfee9e807a1c5c2decb25ece2f",
    ),
    (
        "depth=50&width=64&samples=200&run=sigmoid,xavier",
        "2ee39b0efb1ebab39232449f1ff300c816ff6b919b5299c87554ba71b957e769",
    ),
    (
        "depth=30&width=50&samples=300&run=relu,normal,std:100",
        "0a453a2f97341e4cf3364d07d12381b57f91a4f7b97e0815b902e451cc731ff5",
    ),
    (
        "depth=50&width=128&samples=200&run=tanh,normal,std:0.01&run=relu,normal,std:0.01",
        "c2acd3f60f5840e7f67d254816959d64895f624b1e12babda962fd12a429682d",
    ),
    (
        "depth=200&width=32&samples=100&run=sigmoid,normal,std:0.01&run=relu,he_normal",
        "4e9b1961ef56f7ae62f0f751d7c593512687236aa9cda1f5ddd4ee084af660af",
    ),
    (
        "run=relu,zeros&run=tanh,constant&run=sigmoid,constant,value:-0.3",
        "b13d6517cdd1b6662587e5d70c9d127b00e8ef1cfb220fbb6b0160f0782171ac",
    ),
    (
        "samples=300&run=leaky_relu,he_normal&run=elu,he_normal&run=selu,lecun_normal"
        "&run=gelu,he_normal&run=silu,he_normal&run=softplus,xavier&run=linear,orthogonal"
        "&run=maxout,he_normal,pieces:3",
        "4d2851ee61ea66b5696f092635139cfd28ea8077957ffffd5ba83201c4744504",
    ),
    (
        "samples=300&run=relu,uniform&run=relu,glorot_uniform&run=relu,glorot_normal"
        "&run=relu,he_uniform&run=relu,truncated_normal&run=relu,lsuv"
        "&run=relu,he_normal,mode:fan_out",
        "18b72c8c3435e1fc7df9e537536e44ccba93cd745c69caf2d9784c26b3e91b13",
    ),
    (
        "bias=normal&bias_std=0.5&input=uniform&run=relu,he_normal&run=sigmoid,xavier",
        "c5bd30c8a6b72b502fdb5c047a9f9c26c9834efc14d831074f4ec3ac0768aa54",
    ),
    (
        "bias=constant&bias_value=0.1&input=binary&input_fraction=0.3&run=tanh,xavier"
        "&run=elu,he_normal,alpha:0.5",
        "022143ff9bffcfc391818b0bcbe84eac6a128344f1d68946a6bb7da27276dfd0",
    ),
    (
        "depth=3&width=200&input_dim=50&samples=3000&bins=64&run=relu,he_normal&run=tanh,xavier",
        "354968874749a61b7ac3a32fc857ac9603534eada9ab71e1dbd98e7715d53997",
    ),
    (
        "depth=3&width=300-50-10&bins=7&run=sigmoid,normal,output_activation:linear",
        "17a35bc292485ceaf6e397b89622867eacaf045f326315e6b6c944f814f99142",
    ),
    (
        "depth=2&bins=1&run=relu,he_normal",
        "0bca53b98daed66a1459e6af5e804712c97e60c1d5bb55ceb897c70f8b0567c6",
    ),
    (
        "depth=2&bins=2000&run=tanh,normal&run=gelu,he_normal",
        "ff6d6f050c2d3bef8f708b4aa68c160ce4a00b032a8610fad37f0bdf0cd66924",
    ),
    (
        "depth=2&width=1&input_dim=1&samples=1&run=relu,he_normal&run=sigmoid,normal",
        "7053ae82a4bc7cf6af315db6690d980d75f489067e7e4511677da65b945aeab1",
    ),
    (
        "range=0,1e-05&z_range=-1e-05,1e-05&run=relu,normal,std:0.01",
        "2a528c5383268b1da3fb559a5cbe51eb2225532601ec6d222b78caba8db0e37f",
    ),
    (
        "depth=20&axes=run&run=relu,normal&run=relu,he_normal&run=relu,normal,std:0.01",
        "303796f35ceb92edc402c715e18776802b09eacd32601de44af5b66baba1f464",
    ),
    (
        "depth=20&samples=2000&grad=0&run=relu,normal,std:100&run=tanh,normal,std:100",
        "7e009469c9a8cd3af5752af96e5efa81a0b831d47e77b84475d6c85d40fd2382",
    ),
    (
        "depth=12&samples=1500&loss=mse&run=relu,normal,std:3&run=sigmoid,normal,std:4",
        "c4d10e0ec186e73be08ced7863276dfc2e094e70bd4a30529e148e4c06e5d749",
    ),
    (
        "depth=3&seed=7&run=relu,he_normal&run=tanh,xavier,depth:8,samples:500",
        "db01e6d0e6cd9660e4cf557a34b49df5cfd8199188e96e5a38c9c098c82e5a73",
    ),
    # layer networks (issue 15): post-norm RMSNorm with two layers per branch and s = 0.5,
    # LayerNorm after the activation in a plain stack, Fixup, and the mse backward signal
    # (re-pinned with the row table: `rows`, and ranges shared by paired rows)
    (
        "depth=3&loss=mse&run=tanh,xavier,block:residual,branch:2,norm:rms,norm_at:post,branch_scale:0.5"
        "&run=relu,he_normal,norm:layer,norm_at:after&run=gelu,he_normal,block:residual,branch:2,res_init:fixup",
        "4a449f04af5ba199d4184bf91d34a91a498d3858ccd4e99cd311a289be0998a5",
    ),
    # orthogonal weights wider than tall are a transpose (Fortran order), whose std numpy sums in
    # memory order: pinned by the code before the compiled kernels (e2aaacd), which had summed them
    # in C order and moved 35 of 257 such weight stds by a bit
    (
        "depth=2&width=150&input_dim=60&samples=100&seed=23&run=tanh,orthogonal",
        "9e5ac65ffc5090cd8bf562d89d1a11a6a9f90341324fecc8cfbc98945feed62e",
    ),
]

UNITS_DIGESTS = {
    "ng-zero-init:2": "b56eab839bea59e0832826226dd670a73532db450a10785add79df0e6c95b5ce",
    "saito-compare:1": "8c5c1fed3de87721522a17be1ea02a7319a113462e81ba6a2c7e460e5d0d5e0e",
    "saito-sigmoid-std001:3": "e2695ab931645dcee783d210a788581fb968f3713751f7930db7373e2676f362",
}


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def test_answer_digests_cover_the_presets_of_that_time() -> None:
    # A preset added later is pinned once it ships; none pinned here may disappear (preset=<name>
    # is a share link too).
    assert set(PRESET_DIGESTS) <= set(PRESETS)


# An engine with the cores to itself spreads an experiment over two threads (app/api/runner.py):
# the same bytes either way.
THREADS = pytest.mark.parametrize("threads", [1, 2])


@THREADS
@pytest.mark.parametrize("name", sorted(PRESET_DIGESTS))
def test_answer_digests_preset(name: str, threads: int) -> None:
    with spreading(threads):
        assert _sha256(compute(PRESETS[name].experiment).json) == PRESET_DIGESTS[name]


@THREADS
@pytest.mark.parametrize(("link", "digest"), LINK_DIGESTS, ids=[link for link, _ in LINK_DIGESTS])
def test_answer_digests_link(link: str, digest: str, threads: int) -> None:
    config = codec.to_experiment(codec.decode(link))
    assert codec.encode(config) == link  # canonical: the key is the link the answer is cached under
    with spreading(threads):
        assert _sha256(compute(config).json) == digest


@pytest.mark.parametrize("key", list(UNITS_DIGESTS))
def test_answer_digests_units(key: str) -> None:
    name, layer = key.rsplit(":", 1)
    answer = units_answer(PRESETS[name].experiment, layer=int(layer))
    assert _sha256(answer.json) == UNITS_DIGESTS[key]


def test_answer_digests_http_serves_the_pinned_bytes(client: TestClient) -> None:
    body = client.get(f"/api/v1/simulate?{PRESETS['saito-compare'].query}").content
    assert _sha256(body) == PRESET_DIGESTS["saito-compare"]


# GET /api/v1/diagnostics (issue 16): a preset, and links with LSUV, maxout and c0 at -0.5 and 1
DIAGNOSTICS_DIGESTS = {
    "pennington-tanh-isometry": "6c1496e112863aa8cf263c48d4230801cfba2f2d4ba9464f81498a1aa5aad222",
    "bias=normal&bias_std=0.3&depth=3&width=40&samples=20&run=tanh,xavier,gain:2&run=relu,he_normal"
    "&c0=0.2,0.9&pairs=4&jacobian=1": "90fc2dee73281ebcfa443b1dcbc528f7e7e549c6072faff49e2c2f57bf8008aa",
    "depth=3&width=30&samples=200&run=tanh,lsuv&run=maxout,he_normal&c0=-0.5,1": (
        "9c3aa353e166a922d22591c03cefe440fa0cca5a8533679d00b4e8b0fdbae70b"
    ),
}


@pytest.mark.parametrize("key", list(DIAGNOSTICS_DIGESTS))
def test_answer_digests_diagnostics(key: str) -> None:
    from app.api.diagnostics_payload import diagnostics_answer
    from app.diagnostics_codec import split_options
    from app.diagnostics_presets import DIAGNOSTICS_PRESETS

    share, options = split_options(DIAGNOSTICS_PRESETS[key].query if key in DIAGNOSTICS_PRESETS else key)
    answer = diagnostics_answer(codec.to_experiment(codec.decode(share)), options)
    assert _sha256(answer.json) == DIAGNOSTICS_DIGESTS[key]
