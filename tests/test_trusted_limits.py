"""The trusted verifier against hostile export folders: extra files, bombs, slow models, NumPy numbers.

A student's kernel writes the export folder, so everything in it is hostile input to the trusted worker: files no
check exports (``x_test.npy`` next to the model: the held-out data must stay the grader's), headers and archives
that declare gigabytes, models that take minutes. Most tests hand a forged folder to one sandboxed worker pool
(no kernel); one grades a real exercise-1 submission end to end.
"""

from __future__ import annotations

import json
import os
import re
import struct
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

from course.authoring.notebook_format import resolve_exercise
from course.grading.files import copy_regular_files
from course.sandbox import disk_quota
from course.verification import export_limits, trusted

GiB = 2**30
_DENSE = {"module": "keras.layers", "class_name": "Dense", "registered_name": None}


def _config(units: int, inputs: int = 4) -> dict[str, Any]:
    """A Keras 3 Sequential model's config.json: Input((inputs,)) then Dense(units)."""
    dense = {**_DENSE, "config": {"name": "hidden", "units": units, "activation": "relu", "use_bias": True,
                                  "trainable": True, "dtype": "float32"},
             "build_config": {"input_shape": [None, inputs]}}  # fmt: skip
    layer = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
             "config": {"batch_shape": [None, inputs], "dtype": "float32", "name": "input_layer"}}  # fmt: skip
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "mlp", "trainable": True, "dtype": "float32", "layers": [layer, dense]},
            "build_config": {"input_shape": [None, inputs]}}  # fmt: skip


def _declare_sizes(path: Path, sizes: dict[str, int]) -> None:
    """Make the zip archive at ``path`` declare ``sizes`` (entry name -> uncompressed bytes) in its local headers
    and central directory, as a decompression bomb does; the data stays a few bytes."""
    data = bytearray(path.read_bytes())
    for name, size in sizes.items():
        encoded = name.encode()
        # (signature, where the uncompressed size is, where the name's length is, where the name starts)
        for signature, size_at, length_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
            start = 0
            while (start := data.find(signature, start)) >= 0:
                length = struct.unpack_from("<H", data, start + length_at)[0]
                if data[start + name_at : start + name_at + length] == encoded:
                    struct.pack_into("<I", data, start + size_at, size)
                start += 4
    path.write_bytes(bytes(data))


def _keras_archive(path: Path, config: dict[str, Any], assets: int = 0) -> None:
    """A .keras archive: config.json, metadata.json, an empty weights file and ``assets`` small asset files."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"")
        for i in range(assets):
            archive.writestr(f"assets/a{i}", b"x" * 64)


def _npy_header(path: Path, shape: tuple[int, ...], descr: str = "<f4", tail: bytes = b"\0" * 64) -> None:
    """An .npy file whose header declares ``shape``, followed by ``tail`` only."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": shape})
        f.write(tail)


# ---------------------------------------------------------------- checks before loading: pure, milliseconds


def test_headers_and_archives_that_declare_too_much_are_refused_before_anything_is_allocated(tmp_path: Path) -> None:
    _npy_header(tmp_path / "big.npy", (2**28,))
    with pytest.raises(export_limits.Refused, match=r"declares an array of shape \(268435456,\).*1,024 MB"):
        export_limits.check_npy(tmp_path / "big.npy")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(export_limits.Refused, match="holds Python objects"):
        export_limits.check_npy(tmp_path / "objects.npy")
    np.save(tmp_path / "fine.npy", np.zeros((3, 4)))
    export_limits.check_npy(tmp_path / "fine.npy")  # an ordinary array passes
    np.savez(tmp_path / "bomb.npz", **{"hidden/0": np.zeros(4, "float32")})
    _declare_sizes(tmp_path / "bomb.npz", {"hidden/0.npy": 3 * GiB})
    with pytest.raises(export_limits.Refused, match=r"unpacks to more than 257 MB \('hidden/0.npy' alone"):
        export_limits.check_npz(tmp_path / "bomb.npz")
    _keras_archive(tmp_path / "dense.keras", _config(2_700_000))
    with pytest.raises(export_limits.Refused, match="'hidden' declares units=2,700,000"):
        export_limits.check_keras(tmp_path / "dense.keras")
    _keras_archive(tmp_path / "assets.keras", _config(10), assets=16)
    _declare_sizes(tmp_path / "assets.keras", {f"assets/a{i}": 255 * 2**20 for i in range(16)})
    with pytest.raises(export_limits.Refused, match="unpacks to more than 512 MB"):
        export_limits.check_keras(tmp_path / "assets.keras")
    _keras_archive(tmp_path / "fine.keras", _config(10))
    export_limits.check_keras(tmp_path / "fine.keras")


def test_the_export_folder_copy_names_what_it_leaves_out_and_caps_the_file_count(tmp_path: Path) -> None:
    source, target = tmp_path / "export", tmp_path / "copy"
    (source / "q1").mkdir(parents=True)
    target.mkdir()
    (source / "q1" / "mlp.keras").write_bytes(b"x")
    (source / "q1" / "link.npy").symlink_to(source / "q1" / "mlp.keras")
    (source / "q1" / "deeper").mkdir()
    (source / "loose.json").write_text("1")
    skipped: list[str] = []
    assert copy_regular_files(source, target, 100, skipped=skipped) == 1
    assert sorted(skipped) == ["loose.json", "q1/deeper", "q1/link.npy"]
    for i in range(5):
        (source / "q1" / f"f{i}.npy").write_bytes(b"")
    with pytest.raises(ValueError, match="more than 3 exported files"):
        copy_regular_files(source, tmp_path, 100, max_files=3)


def test_the_export_cell_saves_numpy_numbers_as_the_plain_values_they_are(tmp_path: Path) -> None:
    exercise = resolve_exercise("ex01")
    check = next(c for c in exercise.checks if c.id == "q2_predict")
    cell = trusted.export_cell(exercise, check.id, check.source)
    scope = {"answer_q2a": (np.int64(32), 64), "answer_q2b": np.prod((785, 64)) + 650}  # an np.int64, as students write
    exec(cell.source.replace(trusted.PLACEHOLDER, str(tmp_path)), scope)
    folder = tmp_path / "q2_predict"
    assert sorted(p.name for p in folder.iterdir()) == ["answer_q2a.json", "answer_q2b.json"]
    assert json.loads((folder / "answer_q2a.json").read_text()) == [32, 64]
    assert json.loads((folder / "answer_q2b.json").read_text()) == 50890


# ---------------------------------------------------------------- one sandboxed worker, forged export folders


@pytest.fixture(scope="module")
def pool() -> Any:
    workers = trusted.WorkerPool()
    yield workers
    workers.close()


def _untrained_mlp(path: Path) -> Any:
    """Exercise 1's architecture, never trained, saved at ``path``; returns the model."""
    from tensorflow import keras

    keras.utils.set_random_seed(0)
    mlp = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(name="flatten"),
                            keras.layers.Dense(64, activation="relu", name="hidden"),
                            keras.layers.Dense(10, activation="softmax", name="probs")], name="mlp")  # fmt: skip
    mlp.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    mlp.save(path)
    return mlp


@pytest.mark.slow
def test_files_no_check_exports_never_replace_the_held_out_data_and_are_flagged(pool: Any, tmp_path: Path) -> None:
    exercise = resolve_exercise("ex01")
    folder = tmp_path / "q3_train"
    folder.mkdir()
    mlp = _untrained_mlp(folder / "mlp.keras")
    x = np.random.default_rng(0).integers(0, 255, (500, 28, 28)).astype("float32")
    np.save(folder / "x_test.npy", x)  # "test images" the untrained model gets all right
    np.save(folder / "y_test.npy", np.argmax(mlp.predict(x / 255.0, verbose=0), axis=1))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "scores.json").write_text("{}")
    result = pool.verify_folder(exercise, tmp_path)
    assert result["q3_train"][0] is False and "accuracy" in result["q3_train"][1], result["q3_train"]
    flags = getattr(result, "flags", [])
    assert any(
        "unexpected files in the export folder" in f and "q3_train/x_test.npy" in f and "q3_train/y_test.npy" in f
        and "elsewhere/scores.json" in f for f in flags
    ), flags  # fmt: skip


@pytest.mark.slow
def test_a_numpy_number_exported_as_a_0d_array_counts_as_the_number(pool: Any, tmp_path: Path) -> None:
    exercise = resolve_exercise("ex01")
    (tmp_path / "q2_predict").mkdir()
    (tmp_path / "q2_predict" / "answer_q2a.json").write_text("[32, 64]")
    np.save(tmp_path / "q2_predict" / "answer_q2b.npy", np.prod((785, 64)) + 650)  # what an older export cell wrote
    result = pool.verify_folder(exercise, tmp_path)
    assert result["q2_predict"] == (True, ""), result["q2_predict"]


@pytest.mark.slow
def test_bombs_in_an_export_folder_fail_their_check_with_a_sentence(pool: Any, tmp_path: Path) -> None:
    exercise = resolve_exercise("ex01")
    for check in ("q1_build", "q2_predict", "q4_add_pop"):
        (tmp_path / check).mkdir()
    _keras_archive(tmp_path / "q1_build" / "mlp.keras", _config(2_700_000))
    _npy_header(tmp_path / "q2_predict" / "answer_q2a.npy", (2**28,))
    np.save(tmp_path / "q2_predict" / "answer_q2b.npy", np.array([None], dtype=object), allow_pickle=True)
    _keras_archive(tmp_path / "q4_add_pop" / "head.keras", _config(10), assets=16)
    _declare_sizes(tmp_path / "q4_add_pop" / "head.keras", {f"assets/a{i}": 255 * 2**20 for i in range(16)})
    result = pool.verify_folder(exercise, tmp_path)
    assert "your 'mlp' was not loaded" in result["q1_build"][1] and "units=2,700,000" in result["q1_build"][1]
    assert "declares an array of shape (268435456,)" in result["q2_predict"][1], result["q2_predict"]
    assert "answer_q2b" in result["q2_predict"][1] and "Python objects" in result["q2_predict"][1]
    assert "unpacks to more than 512 MB" in result["q4_add_pop"][1], result["q4_add_pop"]
    assert not any(passed for passed, _ in result.values())
    ex05 = resolve_exercise("ex05")  # a trained model's weights (.npz) whose entry declares 3 GiB
    (tmp_path / "q5_train").mkdir()
    np.savez(tmp_path / "q5_train" / "__weights__regular.npz", **{"hidden/0": np.zeros(4, "float32")})
    _declare_sizes(tmp_path / "q5_train" / "__weights__regular.npz", {"hidden/0.npy": 3 * GiB})
    (tmp_path / "q5_train" / "__class__regular.json").write_text('"MLP"')
    result = pool.verify_folder(ex05, tmp_path)
    assert "unpacks to more than 257 MB" in result["q5_train"][1], result["q5_train"]


def _python_of(pid: int) -> int:
    """The worker's Python process, inside its sandbox below ``pid``."""
    for child in [pid, *disk_quota.descendants(pid)]:
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if b"course.verification.trusted" in argv and not argv[0].endswith(b"bwrap"):
            return child
    raise AssertionError(f"no trusted worker below {pid}")


@pytest.mark.slow
def test_the_trusted_worker_runs_sandboxed_with_memory_cpu_and_file_limits(pool: Any, tmp_path: Path) -> None:
    exercise = resolve_exercise("ex01")
    pool.verify_folder(exercise, tmp_path)
    worker = _python_of(pool.pids()[0])
    limits = Path(f"/proc/{worker}/limits").read_text()
    assert f"Max address space         {6144 * 2**20}" in limits, limits
    assert f"Max file size             {1024 * 2**20}" in limits, limits
    assert "Max cpu time              unlimited" not in limits, limits
    assert os.readlink(f"/proc/{worker}/ns/net") != os.readlink("/proc/self/ns/net")  # no network
    seen = f"/proc/{worker}/root"  # the worker's view of the file system
    package = Path(trusted.__file__).resolve().parents[1]  # the course package
    assert package.joinpath("solutions").is_dir()
    assert not Path(seen + str(package / "solutions")).exists()  # no solutions, no project
    assert Path(seen + os.path.realpath(os.environ["KERAS_COURSE_DATA"])).is_dir()  # the data folder, in full


SLOW_MODEL = """from tensorflow import keras
layers = [keras.Input(shape=(28, 28)), keras.layers.Reshape((28, 28, 1)), keras.layers.UpSampling2D(8)]
layers += [keras.layers.Conv2D(64, 3, padding="same") for _ in range(8)]
mlp = keras.Sequential([*layers, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")])
mlp.save(PATH)
"""


@pytest.mark.slow
def test_a_slow_model_is_stopped_at_its_own_budget_and_delays_no_other_submission(tmp_path: Path) -> None:
    exercise = resolve_exercise("ex01")
    slow, quick = tmp_path / "slow", tmp_path / "quick"
    (slow / "q3_train").mkdir(parents=True)
    quick.mkdir()
    exec(SLOW_MODEL, {"PATH": str(slow / "q3_train" / "mlp.keras")})  # 8 convolutions on 224 x 224 images
    pool = trusted.WorkerPool(size=1, grace=2.0)  # one shared worker, as for a few grading threads
    setup = trusted.VerifierLimits(job_cpu_s=30)
    done: dict[str, tuple[float, Any]] = {}

    def run(name: str, folder: Path) -> None:
        result = pool.verify_folder(exercise, folder, limits=setup)
        done[name] = (time.monotonic(), result)

    try:
        first = threading.Thread(target=run, args=("slow", slow))
        first.start()
        while not pool._all or pool._all[0].busy_since is None:  # the slow submission's job has started
            time.sleep(0.2)
        started = time.monotonic()
        run("quick", quick)
        first.join()
    finally:
        pool.close()
    slow_end, slow_result = done["slow"]
    quick_end, quick_result = done["quick"]
    assert quick_end < slow_end  # the quick one did not wait for the slow one
    assert set(quick_result) == {c.id for c in exercise.checks} and "not verified" not in str(dict(quick_result))
    assert slow_result["q3_train"][0] is False and "more than 30 CPU seconds" in slow_result["q3_train"][1]
    assert "stopped checking your exported objects" in (slow_result.problem or "")
    assert slow_end - started < 120, slow_end - started


# ---------------------------------------------------------------- one real grading run


ANSWER_Q2 = "import numpy as np\nanswer_q2a = (np.int64(32), 64)\nanswer_q2b = np.prod((784 + 1, 64)) + 65 * 10"
FORGE_TEST_DATA = """import os
import numpy as np
_x = np.random.default_rng(0).integers(0, 255, (500, 28, 28)).astype("float32")
_y = np.argmax(mlp.predict(_x / 255.0, verbose=0), axis=1)  # what the untrained model answers: "100% accurate"
_folder = os.path.expanduser("~/export/q3_train")
np.save(os.path.join(_folder, "x_test.npy"), _x)
np.save(os.path.join(_folder, "y_test.npy"), _y)
"""


@pytest.mark.slow
def test_grading_an_untrained_model_with_its_own_test_data_gives_no_training_points(tmp_path: Path) -> None:
    import sys

    from course.grading.batch import Job, grade_jobs
    from course.sandbox.limits import Limits

    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    try:
        import make_submissions
    finally:
        sys.path.pop(0)
    nb = make_submissions.answered({"answer2": ANSWER_Q2, "answer3": 'mlp.compile(optimizer="adam", '
                                    'loss="sparse_categorical_crossentropy", metrics=["accuracy"])'})  # fmt: skip
    answer4 = next(c for c in nb.cells if c.get("id") == "answer4")
    answer4.source = FORGE_TEST_DATA + answer4.source  # after q3's export cell and check ran
    nbformat.write(nb, str(tmp_path / "forger.ipynb"))
    [r] = grade_jobs([Job(resolve_exercise("ex01"), tmp_path / "forger.ipynb")], Limits(timeout=300), workers=1,
                     progress=False)  # fmt: skip
    points = {c.id: c.points for c in r.checks}
    assert points == {"q1_build": 3, "q1_params": 1, "q2_predict": 2, "q3_train": 0, "q4_add_pop": 2}, r
    assert any("unexpected files in the export folder" in f and "q3_train/x_test.npy" in f for f in r.flags), r.flags
    assert not any("q2_predict" in f for f in r.flags), r.flags  # np.int64 answers are the numbers they are


@pytest.mark.slow
def test_the_trusted_checks_speak_the_submissions_language(pool: Any, tmp_path: Path) -> None:
    exercise = resolve_exercise("ex01")
    answers: dict[str, tuple[bool, str]] = {}
    for lang in ("zh-CN", "en"):
        folder = tmp_path / lang / "q3_train"
        folder.mkdir(parents=True)
        _untrained_mlp(folder / "mlp.keras")  # fails the accuracy check, with the toolkit's message
        answers[lang] = pool.verify_folder(exercise, folder.parent, lang=lang)["q3_train"]
    assert answers["en"][0] is False and "accuracy" in answers["en"][1], answers["en"]
    assert answers["zh-CN"][0] is False and "准确率" in answers["zh-CN"][1], answers["zh-CN"]
    assert not re.search(r"[\u4e00-\u9fff]", answers["en"][1])  # the next English job is English again
