"""toolkit.checks: each helper passes on the right thing and fails with a message that teaches."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit import checks
from toolkit._keras import keras
from toolkit.checks import CheckFailure


@pytest.fixture(scope="module")
def mlp() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(10, activation="softmax", name="probs"),
        ],
        name="mlp",
    )


def test_check_failure_is_an_assertion_error_with_expected_found_and_hint() -> None:
    err = CheckFailure("The answer is not right.", expected=3, found=4, hint="count again")
    assert isinstance(err, AssertionError)
    assert str(err) == "The answer is not right.\n  expected: 3\n  found:    4\n  hint: count again"


def test_check_equal_treats_tuples_and_lists_and_numpy_ints_alike(capsys: pytest.CaptureFixture[str]) -> None:
    checks.check_equal("shape", [None, np.int64(10)], (None, 10))
    assert capsys.readouterr().out == "✓ shape = (None, 10)\n"
    with pytest.raises(CheckFailure, match=r"shape is not right\.\n  expected: \(None, 10\)\n  found:    \(None, 11\)"):
        checks.check_equal("shape", (None, 11), (None, 10), hint="look at the last layer")


def test_check_equal_refuses_objects_that_claim_to_equal_everything() -> None:
    class AlwaysEqual:
        def __eq__(self, other: object) -> bool:
            return True

    with pytest.raises(CheckFailure, match="(?s)must be plain data.*AlwaysEqual"):
        checks.check_equal("answer", AlwaysEqual(), 5)


def test_check_true_needs_exactly_true() -> None:
    checks.check_true(True, "it works")
    with pytest.raises(CheckFailure, match=r"Not yet: the model is built\.\n  found:    1"):
        checks.check_true(1, "the model is built")


def test_check_shape_of_model_tensor_and_multi_output(mlp: keras.Model) -> None:
    checks.check_shape(mlp, (None, 10))
    checks.check_shape(np.zeros((2, 3)), (2, 3))
    inp = keras.Input(shape=(4,))
    two = keras.Model(inp, [keras.layers.Dense(1)(inp), keras.layers.Dense(2)(inp)])
    checks.check_shape(two, [(None, 1), (None, 2)])
    with pytest.raises(CheckFailure, match=r"(?s)output shape of the model 'mlp' is not right.*found:    \(None, 10\)"):
        checks.check_shape(mlp, (None, 5), hint="ten classes")


def test_check_shape_of_a_model_without_input_says_how_to_fix() -> None:
    with pytest.raises(CheckFailure, match=r"(?s)no defined output yet.*keras\.Input\(shape=\.\.\.\)"):
        checks.check_shape(keras.Sequential([keras.layers.Dense(3)]), (None, 3))
    with pytest.raises(CheckFailure, match="(?s)needs a Keras model, a tensor or an array.*int"):
        checks.check_shape(3, (None, 3))


def test_check_param_count_all_trainable_and_not_built(mlp: keras.Model) -> None:
    checks.check_param_count(mlp, 784 * 8 + 8 + 8 * 10 + 10)
    checks.check_param_count(mlp, 0, trainable=False)
    with pytest.raises(CheckFailure, match=r"(?s)number of parameters of the model 'mlp' is not right.*found:    6370"):
        checks.check_param_count(mlp, 6000)
    with pytest.raises(CheckFailure, match="has no weights yet: it is not built"):
        checks.check_param_count(keras.Sequential([keras.layers.Dense(3)]), 12)
    with pytest.raises(CheckFailure, match="(?s)needs a Keras model.*found:    an object of type str"):
        checks.check_param_count("mlp", 12)


def test_check_param_count_ignores_an_overridden_count_params(mlp: keras.Model) -> None:
    class Liar(keras.Sequential):
        def count_params(self) -> int:
            return 123

    liar = Liar([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    with pytest.raises(CheckFailure, match="found:    3"):
        checks.check_param_count(liar, 123)


def test_check_layer_types_and_names_leave_out_input_layers(mlp: keras.Model) -> None:
    checks.check_layer_types(mlp, ["Flatten", keras.layers.Dense, "Dense"])
    inp = keras.Input(shape=(3,))
    functional = keras.Model(inp, keras.layers.Dense(2, name="out")(inp))
    checks.check_layer_names(functional, ["out"])
    with pytest.raises(CheckFailure, match=r"(?s)layer names.*expected: \('flatten', 'probs'\).*hint: name them"):
        checks.check_layer_names(mlp, ["flatten", "probs"], hint="name them")


def test_hash_answer_round_trip_and_normalisation(capsys: pytest.CaptureFixture[str]) -> None:
    digest = checks.hash_answer("t_q1", (None, 10), salt="abc", rounds=1000)
    assert digest.startswith("pbkdf2-sha256$1000$abc$") and len(digest.split("$")[3]) == 64
    checks.check_hashed("t_q1", [None, np.int32(10)], digest)
    assert "t_q1: (None, 10) is right" in capsys.readouterr().out
    with pytest.raises(CheckFailure, match=r"Your answer to t_q1 is not right\.\n  found:    \(None, 11\)\n  hint: h"):
        checks.check_hashed("t_q1", (None, 11), digest, hint="h")
    # The question id is part of the hash: the same answer to another question does not match.
    with pytest.raises(CheckFailure, match="not right"):
        checks.check_hashed("t_q2", (None, 10), digest)
    assert checks.hash_answer("t_q1", 5, salt="s1", rounds=1000) != checks.hash_answer(
        "t_q1", 5, salt="s2", rounds=1000
    )


def test_check_hashed_rejects_a_malformed_digest_and_missing_answers() -> None:
    with pytest.raises(ValueError, match=r"digest must look like 'pbkdf2-sha256\$ROUNDS\$SALT\$HEX'.*course hash"):
        checks.check_hashed("q", 1, "sha256:abc")
    digest = checks.hash_answer("q", 1, salt="x", rounds=1000)
    with pytest.raises(CheckFailure, match="has no answer yet"):
        checks.check_hashed("q", ..., digest)
    with pytest.raises(ValueError, match="salt must be letters and digits"):
        checks.hash_answer("q", 1, salt="a$b")


def test_check_accuracy_on_a_model_that_knows_the_answer_and_one_that_does_not() -> None:
    x = np.eye(4, dtype="float32")
    y = np.array([0, 1, 2, 3])
    inp = keras.Input(shape=(4,))
    identity = keras.Model(inp, keras.layers.Activation("linear")(inp))
    checks.check_accuracy(identity, x, y, at_least=1.0)
    with pytest.raises(
        CheckFailure, match=r"(?s)accuracy of the model .* too low.*expected: at least 0\.90.*found:    0\.000"
    ):
        checks.check_accuracy(identity, x, (y + 1) % 4, at_least=0.9)
    dense = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
    with pytest.raises(CheckFailure, match="could not predict"):
        checks.check_accuracy(dense, np.zeros((4, 7), "float32"), y, at_least=0.5)
    with pytest.raises(CheckFailure, match=r"(?s)one row of class scores per image.*expected: shape \(3, number"):
        checks.check_accuracy(identity, x, y[:3], at_least=0.5)


def test_check_config_roundtrip_catches_a_forgotten_get_config() -> None:
    class Faithful(keras.layers.Layer):
        def __init__(self, units: int, **kwargs: object) -> None:
            super().__init__(**kwargs)
            self.units = units

        def get_config(self) -> dict[str, object]:
            return {**super().get_config(), "units": self.units}

    class Forgetful(Faithful):
        def get_config(self) -> dict[str, object]:
            return {"name": self.name}

    class Drifting(Faithful):
        def get_config(self) -> dict[str, object]:
            return {**super().get_config(), "units": self.units + 1}

    checks.check_config_roundtrip(Faithful(3))
    with pytest.raises(CheckFailure, match="(?s)Forgetful cannot be rebuilt from its config.*TypeError"):
        checks.check_config_roundtrip(Forgetful(3))
    with pytest.raises(CheckFailure, match=r"(?s)Drifting.from_config\(get_config\(\)\) gives a different layer"):
        checks.check_config_roundtrip(Drifting(3))
