"""diagram(): DOT built from records (pure), SVG rendered by Graphviz, and loud failures without it."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import zoo

import toolkit
from toolkit.inspection.diagram import build_dot
from toolkit.inspection.model_inputs import walk

diagram_module = importlib.import_module("toolkit.inspection.diagram")  # the module; toolkit.diagram is the function


def test_shared_layer_gets_a_box_per_call_joined_by_same_weights() -> None:
    dot = build_dot(walk(zoo.shared_conv(), None, "diagram"))
    assert '"conv[0]" [label="conv[0] : Conv2D\\nin: (None, 32, 32, 3)\\nout: (None, 32, 32, 16)"' in dot
    assert '"conv[1]" [label="conv[1] : Conv2D\\nin: (None, 64, 64, 3)\\nout: (None, 64, 64, 16)"' in dot
    assert '"small[0]" -> "conv[0]"' in dot and '"large[0]" -> "conv[1]"' in dot
    assert '"conv[0]" -> "conv[1]" [style=dotted' in dot and "same weights" in dot


def test_per_layer_mode_labels_each_call_edge() -> None:
    dot = build_dot(walk(zoo.shared_lstm(), None, "diagram"), per_call=False)
    assert dot.count('[label="shared_lstm : LSTM"') == 1
    assert "call 0: (None, 280, 256)" in dot and "call 1: (None, 280, 256)" in dot


def test_nested_models_become_clusters_with_edges_through_them() -> None:
    dot = build_dot(walk(zoo.twice_nested(), None, "diagram"))
    assert 'subgraph "cluster_encoder[0]"' in dot and 'subgraph "cluster_encoder[1]"' in dot
    assert '"left[0]" -> "encoder[0]/embed[0]"' in dot
    assert '"encoder[1]/embed[1]" -> "diff[0]"' in dot
    flat = build_dot(walk(zoo.twice_nested(), None, "diagram"), expand_nested=False)
    assert "cluster" not in flat and '"encoder[1]" -> "diff[0]"' in flat


def test_subclassed_model_is_drawn_from_its_trace() -> None:
    d = toolkit.diagram(zoo.SubclassedMLP(True, True), input_shape=(784,))
    assert '"inputs" -> "dense1[0]"' in d.dot and '"dense1[0]" -> "dropout[0]"' in d.dot
    assert '"bn[0]" -> "dense2[0]"' in d.dot
    assert d.svg.lstrip().startswith("<?xml") and "dense2[0] : Dense" in d.svg
    assert d._repr_svg_() == d.svg


def test_save_formats(tmp_path: Path) -> None:
    d = toolkit.diagram(zoo.functional_mlp())
    assert d.save(tmp_path / "m.svg").read_text().count("<svg") == 1
    assert d.save(tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert d.save(tmp_path / "m.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match=r"writes svg, png, pdf files; got 'm.gif'"):
        d.save(tmp_path / "m.gif")


def test_missing_dot_raises_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram_module.shutil, "which", lambda name: None)
    with pytest.raises(toolkit.GraphvizMissing, match="apt-get install graphviz"):
        toolkit.diagram(zoo.functional_mlp())


def test_dot_is_installed_for_the_course() -> None:
    # Diagrams are part of every lesson: in the test environment a missing `dot` is a failure, not a skip.
    assert diagram_module.shutil.which("dot"), "Graphviz's dot is missing: `make setup` installs graphviz"


# --- without Graphviz: a text diagram in notebooks, strict under tests ----------------------------------------


def test_without_dot_a_notebook_gets_the_calls_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram_module.shutil, "which", lambda name: None)
    model = zoo.shared_conv()
    d = toolkit.diagram(model, strict=False)
    records = [r for r in walk(model, None, "diagram").rows if r.called]
    assert len(d.lines) == len(records) and d.svg == "" and d._repr_svg_() is None
    conv = [line for line in d.lines if line.startswith("conv[")]
    assert conv[0].startswith("conv[0] : Conv2D -> (None, 32, 32, 16)  <- small[0]")
    assert conv[1] == "conv[1] : Conv2D -> (None, 64, 64, 16)  <- large[0]  (same weights as conv[0])"
    page = d._repr_html_()
    assert page is not None and "brew install graphviz" in page and "conv[1] : Conv2D" in page
    assert str(d).splitlines()[0] == d.note and d.note.count(". ") == 0  # one sentence, then the calls
    with pytest.raises(toolkit.GraphvizMissing, match="apt-get install graphviz"):
        d.save("model.png")


def test_without_dot_tests_stay_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram_module.shutil, "which", lambda name: None)
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # as in a notebook kernel started outside pytest
    monkeypatch.delenv(diagram_module.STRICT_ENV, raising=False)
    assert toolkit.diagram(zoo.functional_mlp()).lines  # a learner's notebook: the text fallback
    monkeypatch.setenv(diagram_module.STRICT_ENV, "1")  # CI's notebook runs
    with pytest.raises(toolkit.GraphvizMissing, match="not on PATH"):
        toolkit.diagram(zoo.functional_mlp())
    monkeypatch.delenv(diagram_module.STRICT_ENV)
    with pytest.raises(toolkit.GraphvizMissing):
        toolkit.diagram(zoo.functional_mlp(), strict=True)


# --- stored outputs: a PNG beside the SVG, for front ends that drop SVG (untrusted JupyterLab, GitHub) --------


def _display(obj: object) -> tuple[dict, dict]:
    """What Jupyter stores for ``obj``: IPython's own formatter, as a kernel runs it."""
    from IPython.core.formatters import DisplayFormatter

    return DisplayFormatter().format(obj)


def test_a_diagram_displays_svg_and_a_small_png_beside_it() -> None:
    import base64
    import io

    from PIL import Image

    d = toolkit.diagram(zoo.toy_resnet())
    data, metadata = _display(d)
    assert data["image/svg+xml"] == d.svg  # trusted front ends prefer the SVG (it scales)
    png = base64.b64decode(data["image/png"]) if isinstance(data["image/png"], str) else data["image/png"]
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG"
    assert 8_000 < len(png) < 60_000, f"a lesson diagram's PNG should be tens of KB, got {len(png):,} bytes"
    # shown at the SVG's size (Graphviz's points), drawn with more pixels so that it stays sharp
    width_pt = float(d.svg.split('width="')[1].split("pt")[0])
    assert metadata["image/png"]["width"] == pytest.approx(width_pt, abs=2)
    assert image.size[0] > metadata["image/png"]["width"]
    assert "text/html" not in data and "<Diagram of 'toy_resnet'" in data["text/plain"]


def test_without_dot_a_diagram_has_no_png(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram_module.shutil, "which", lambda name: None)
    data, _ = _display(toolkit.diagram(zoo.functional_mlp(), strict=False))
    assert "image/png" not in data and "image/svg+xml" not in data and "brew install graphviz" in data["text/html"]
