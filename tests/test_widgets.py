"""The interactive what-if form (bsc_toolkit.widgets): when it shows, what it passes, what it displays."""

from __future__ import annotations

import ipywidgets as w
import numpy as np
import pandas as pd
import pytest
from IPython import get_ipython

from bsc_toolkit import widgets
from bsc_toolkit.data.simulate import simulate
from bsc_toolkit.formatting import escape_html
from bsc_toolkit.models._base import NotEstimableError
from bsc_toolkit.models.financial import FinancialPanelModel
from bsc_toolkit.models.retention import DiscreteTimeHazardModel
from bsc_toolkit.models.whatif import what_if
from bsc_toolkit.panel import customer_periods
from bsc_toolkit.widgets import ALL_CUSTOMERS, build_what_if_controls, interactive, what_if_controls


def _html(output: w.Output) -> str:
    """All text/html and text/markdown shown in an Output widget."""
    parts = []
    for out in output.outputs:
        for mime in ("text/html", "text/markdown"):
            if mime in out.get("data", {}):
                parts.append(out["data"][mime])
    return "\n".join(parts)


class _Recorder:
    def __init__(self, result: object = "done") -> None:
        self.calls: list[dict] = []
        self.result = result

    def __call__(self, **kwargs: object) -> object:
        self.calls.append(kwargs)
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


# --------------------------------------------------------------------------------------------- interactive()


def test_not_interactive_outside_ipython(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BSC_REPORT", raising=False)
    assert get_ipython() is None  # pytest is a plain interpreter
    assert interactive() is False


def test_not_interactive_in_a_report_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(widgets, "_in_kernel", lambda: True)
    monkeypatch.setenv("BSC_REPORT", "1")
    assert interactive() is False
    monkeypatch.setenv("BSC_REPORT", "0")
    assert interactive() is True
    monkeypatch.delenv("BSC_REPORT")
    assert interactive() is True


def test_in_kernel_needs_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython

    class Terminal:  # terminal IPython: a shell without a kernel
        pass

    class Kernel:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Terminal())
    assert widgets._in_kernel() is False
    monkeypatch.setattr(IPython, "get_ipython", lambda: Kernel())
    assert widgets._in_kernel() is True


def test_what_if_controls_displays_nothing_when_not_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[object] = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.extend(a))
    monkeypatch.setattr(widgets, "interactive", lambda: False)
    compute = _Recorder()
    assert what_if_controls(compute, deltas=(-1, 1, 0.5)) is None
    assert shown == [] and compute.calls == []


def test_what_if_controls_displays_the_form_when_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[object] = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.extend(a))
    monkeypatch.setattr(widgets, "interactive", lambda: True)
    box = what_if_controls(_Recorder(), deltas=(-1, 1, 0.5), title="What if")
    assert isinstance(box, w.VBox)
    assert shown == [box]


# ------------------------------------------------------------------------------------------------ the form


def test_controls_built_from_what_is_given() -> None:
    box = build_what_if_controls(
        _Recorder(),
        deltas=(-2, 3, 0.25),
        drivers=[("overall satisfaction (csat)", None), ("time", "time"), ("quality", "quality")],
        segments=["smb", "enterprise"],
        horizons=[4, 8],
        title="Raise <satisfaction>",
        value=1.5,
    )
    c = box.controls
    assert list(c) == ["delta", "driver", "segment", "horizon"]
    d = c["delta"]
    assert isinstance(d, w.FloatSlider) and (d.min, d.max, d.step, d.value) == (-2.0, 3.0, 0.25, 1.5)
    assert d.continuous_update is False
    assert isinstance(c["driver"], w.Dropdown) and c["driver"].value is None
    assert [label for label, _ in c["driver"].options] == ["overall satisfaction (csat)", "time", "quality"]
    seg = c["segment"]
    assert list(seg.options) == [(ALL_CUSTOMERS, None), ("smb", "smb"), ("enterprise", "enterprise")]
    assert seg.value is None
    assert isinstance(c["horizon"], w.Dropdown) and c["horizon"].value == 4
    assert isinstance(box.button, w.Button) and box.button.description == "Compute"
    assert isinstance(box.output, w.Output) and box.output in box.children
    assert "Raise &lt;satisfaction&gt;" in box.children[0].value  # the title is escaped
    # a range gives an integer slider; the delta defaults to +1, clipped to the slider
    box = build_what_if_controls(_Recorder(), deltas=(-0.5, 0.5, 0.1), horizons=range(2, 13, 2))
    h = box.controls["horizon"]
    assert isinstance(h, w.IntSlider) and (h.min, h.max, h.step, h.value) == (2, 12, 2, 2)
    assert box.controls["delta"].value == 0.5


def test_only_the_given_controls_are_passed() -> None:
    compute = _Recorder()
    box = build_what_if_controls(compute, deltas=(-1, 1, 0.5))
    assert list(box.controls) == ["delta"]
    box.button.click()
    assert compute.calls == [{"delta": 1.0}]


def test_bad_deltas_are_refused() -> None:
    with pytest.raises(ValueError, match="min < max"):
        build_what_if_controls(_Recorder(), deltas=(1, -1, 0.5))
    with pytest.raises(ValueError, match="step > 0"):
        build_what_if_controls(_Recorder(), deltas=(-1, 1, 0))
    with pytest.raises(ValueError, match="drivers is empty"):
        build_what_if_controls(_Recorder(), deltas=(-1, 1, 0.5), drivers=[])


def test_click_passes_the_controls_and_shows_the_result() -> None:
    frame = pd.DataFrame({"metric": ["retained customers"], "change": [12.5]})
    compute = _Recorder(result=("**Raising** csat", frame))
    box = build_what_if_controls(
        compute, deltas=(-2, 2, 0.5), drivers=[("csat", None), ("time", "time")], segments=["smb"], horizons=[4, 8]
    )
    box.controls["delta"].value = -1.5
    box.controls["driver"].value = "time"
    box.controls["segment"].value = "smb"
    box.controls["horizon"].value = 8
    box.button.click()
    assert compute.calls == [{"delta": -1.5, "driver": "time", "segment": "smb", "horizon": 8}]
    outs = box.output.outputs
    assert len(outs) == 2
    assert outs[0]["data"]["text/markdown"] == "**Raising** csat"  # a str is Markdown
    assert "retained customers" in outs[1]["data"]["text/html"] and "12.5" in outs[1]["data"]["text/html"]
    assert box.button.disabled is False
    # a second click replaces the result, with "all customers" passed as segment=None
    compute.result = "second"
    box.controls["segment"].value = None
    box.button.click()
    assert compute.calls[-1]["segment"] is None
    assert [o["data"].get("text/markdown") for o in box.output.outputs] == ["second"]


@pytest.mark.parametrize(
    "error, says",
    [
        (ValueError("segment 'government' is not in the panel <x>"), "This what-if cannot be computed"),
        (NotEstimableError("the churn model did not converge"), "This what-if cannot be computed"),
        (RuntimeError("out of memory"), "The computation failed (RuntimeError)"),
    ],
)
def test_an_error_shows_its_message_not_a_traceback(error: Exception, says: str) -> None:
    compute = _Recorder(result="fine")
    box = build_what_if_controls(compute, deltas=(-1, 1, 0.5))
    box.button.click()
    compute.result = error
    box.button.click()  # no exception escapes the click
    html = _html(box.output)
    assert len(box.output.outputs) == 1  # the former result is gone
    assert says in html and "<x>" not in html
    assert escape_html(str(error)) in html  # the message, escaped
    assert "Traceback" not in html and "text/markdown" not in box.output.outputs[0]["data"]
    assert box.button.disabled is False


def test_no_global_shell_is_created() -> None:
    box = build_what_if_controls(_Recorder(pd.DataFrame({"a": [1]})), deltas=(-1, 1, 0.5))
    box.button.click()
    assert box.output.outputs and get_ipython() is None  # other tests still see a plain interpreter


# ----------------------------------------------------------------------------------------- a real what-if


@pytest.fixture(scope="module")
def fitted():
    data = simulate(1000, seed=11)
    panel = customer_periods(data.customers, data.surveys, data.transactions)
    churn = DiscreteTimeHazardModel().fit(panel)
    spend = FinancialPanelModel(estimator="ppml").fit(panel)
    return panel, churn, spend


def test_real_what_if_end_to_end(fitted) -> None:
    panel, churn, spend = fitted

    def run(delta, driver=None, segment=None, horizon=1):
        kw = dict(churn_model=churn, spend_model=spend, n_sims=50, seed=0)
        result = what_if(panel, delta=delta, driver=driver, segment=segment, horizon_periods=horizon, **kw)
        return result.summary_text(), result.summary

    box = build_what_if_controls(
        run,
        deltas=(-2, 2, 0.5),
        drivers=[("overall satisfaction (csat)", None), ("quality", "quality")],
        segments=sorted(panel["segment"].unique()),
        horizons=range(1, 5),
    )
    box.controls["driver"].value = "quality"
    box.controls["segment"].value = "smb"
    box.controls["horizon"].value = 2
    box.button.click()
    direct = what_if(
        panel, delta=1.0, driver="quality", segment="smb", horizon_periods=2, churn_model=churn, spend_model=spend,
        n_sims=50, seed=0,
    )  # fmt: skip
    text, summary = box.output.outputs[0]["data"]["text/markdown"], box.output.outputs[1]["data"]["text/html"]
    assert text == direct.summary_text()
    assert "segment 'smb'" in text and "'quality' rating by +1 point(s)" in text
    change = direct.summary.loc["retained_customers", "change"]
    assert change > 0 and np.isfinite(change)
    assert "retained_customers" in summary
    # the package's own refusal (a driver the panel does not have) reads as a sentence
    box = build_what_if_controls(run, deltas=(-2, 2, 0.5), drivers=[("speed", "speed")], horizons=[1])
    box.button.click()
    html = _html(box.output)
    assert "This what-if cannot be computed" in html and "speed" in html and "Traceback" not in html


# ------------------------------------------------------------------------------------------- a real kernel


def _run_in_kernel(sources: list[str]) -> list[list[dict]]:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    return [c.outputs for c in nb.cells]


@pytest.mark.slow
@pytest.mark.parametrize("report", [False, True])
def test_in_a_kernel(monkeypatch: pytest.MonkeyPatch, report: bool) -> None:
    """A JupyterLab kernel shows the form and a click fills its output; a `bsc report` kernel shows nothing."""
    if report:
        monkeypatch.setenv("BSC_REPORT", "1")
    else:
        monkeypatch.delenv("BSC_REPORT", raising=False)
    form, click = _run_in_kernel(
        [
            "from bsc_toolkit.widgets import what_if_controls\n"
            "box = what_if_controls(lambda delta: f'**delta {delta:+g}**', deltas=(-1, 1, 0.5))",
            "if box is not None:\n    box.button.click()\n    print(box.output.outputs)\nelse:\n    print('no form')",
        ]
    )
    printed = "".join(o.get("text", "") for o in click)
    if report:
        assert form == [] and printed.strip() == "no form"
    else:
        assert [o["output_type"] for o in form] == ["display_data"]
        assert "application/vnd.jupyter.widget-view+json" in form[0]["data"]
        assert "'text/markdown': '**delta +1**'" in printed
