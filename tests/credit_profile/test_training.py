"""Training a scorecard on a synthetic table, and the ``flask scorecard`` commands around it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("optbinning")

import flask
import pandas as pd
from flask_babel import Babel

from credit_profile.scorecard import Scorecard
from credit_profile.scorecard_terms import NumericCharacteristic
from credit_profile.training import ColumnTypeError, TrainingDataError, score_table, train_scorecard
from credit_profile.validation import population_stability_index, render_score_distribution
from portal.scorecard_cli import scorecard_cli

TARGET = "bad"


def synthetic_table(n: int = 600, seed: int = 7) -> pd.DataFrame:
    """``overdue_days`` drives the outcome; ``sector`` (with gaps) helps a little; ``noise`` does not."""
    rng = np.random.default_rng(seed)
    overdue_days = rng.gamma(2.0, 15.0, n).round()
    sector = rng.choice(["manufacturing", "retail", "farming"], n)
    log_odds = -4.0 + 0.12 * overdue_days + np.where(sector == "retail", 0.5, 0.0)
    bad = (rng.random(n) < 1 / (1 + np.exp(-log_odds))).astype(int)
    df = pd.DataFrame(
        {
            "borrower_id": np.arange(n),
            "overdue_days": overdue_days,
            "sector": sector,
            "noise": rng.normal(size=n),
            TARGET: bad,
        }
    )
    df.loc[rng.random(n) < 0.1, "sector"] = None
    return df


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return synthetic_table()


@pytest.fixture(scope="module")
def trained(table: pd.DataFrame) -> tuple[dict[str, Any], dict[str, Any]]:
    return train_scorecard(
        table, TARGET, version="test-1", exclude=["borrower_id"], labels={"overdue_days": "逾期天数"}
    )


def test_a_separating_column_gives_a_high_validation_auc(
    trained: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, report = trained
    assert report["validation"]["auc"] > 0.8
    assert report["validation"]["gini"] == pytest.approx(2 * report["validation"]["auc"] - 1)
    assert 0.4 < report["validation"]["ks"] <= 1
    assert 0 <= report["validation"]["psi"] < 0.25
    decisions = {c["name"]: c for c in report["characteristics"]}
    assert decisions["overdue_days"]["decision"] == "selected"
    assert decisions["overdue_days"]["iv"] > decisions["noise"]["iv"]
    assert "borrower_id" not in decisions


def test_artefact_round_trips_and_points_fall_as_risk_rises(
    trained: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    artefact, _ = trained
    scorecard = Scorecard.from_dict(json.loads(json.dumps(artefact)))
    assert scorecard.to_dict() == artefact
    overdue = next(c for c in scorecard.characteristics if c.name == "overdue_days")
    assert isinstance(overdue, NumericCharacteristic)
    assert overdue.label == "逾期天数"
    points = [b.points for b in overdue.bins]
    assert len(points) >= 3
    assert points == sorted(points, reverse=True)


def test_scores_rank_and_are_calibrated_to_the_scaling(
    table: pd.DataFrame, trained: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    # Unclamped, so that the scores keep the full log-odds of the regression.
    artefact = trained[0] | {"scaling": trained[0]["scaling"] | {"min_score": -5000, "max_score": 5000}}
    artefact["grades"] = [{"grade": "all", "min_score": -5000}]
    scorecard = Scorecard.from_dict(artefact)
    scores = np.asarray(score_table(scorecard, table), dtype=np.float64)
    bad = table[TARGET].to_numpy() == 1
    assert scores[bad].mean() < scores[~bad].mean() - 30
    # score = offset + factor * ln(odds of good) and the regression's intercept is not penalised, so the
    # implied bad rates average to the observed one.
    implied_bad_rate = 1 / (1 + np.exp((scores - scorecard.scaling.offset) / scorecard.scaling.factor))
    assert implied_bad_rate.mean() == pytest.approx(bad.mean(), abs=0.02)


def test_score_table_matches_scoring_row_by_row(
    table: pd.DataFrame, trained: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    scorecard = Scorecard.from_dict(trained[0])
    rows = table.head(40)
    expected = [
        scorecard.score({k: (None if pd.isna(v) else v) for k, v in row.items()}).score
        for row in rows.to_dict("records")
    ]
    assert score_table(scorecard, rows) == expected


def test_score_table_rejects_text_in_a_numeric_column(trained: tuple[dict[str, Any], dict[str, Any]]) -> None:
    rows = pd.DataFrame({"overdue_days": ["12", "many"]})
    with pytest.raises(ColumnTypeError) as raised:
        score_table(Scorecard.from_dict(trained[0]), rows)
    assert raised.value.column == "overdue_days"


def test_report_renders_a_png(trained: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, report = trained
    assert set(report["bin_tables"]) == {
        c["name"] for c in report["characteristics"] if c["decision"] == "selected"
    }
    assert render_score_distribution(report).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda df: df.assign(bad=df[TARGET] * 2), "target_not_binary"),
        (lambda df: df.assign(bad=0), "single_class"),
        (lambda df: df.drop(columns=[TARGET]), "missing_target"),
        (lambda df: df.head(10), "too_few_rows"),
        (lambda df: df[[TARGET]], "no_characteristics"),
        (lambda df: df[["noise", TARGET]].assign(noise=1.0), "no_predictive_characteristic"),
    ],
)
def test_unusable_tables_are_rejected(table: pd.DataFrame, change: Any, code: str) -> None:
    with pytest.raises(TrainingDataError) as raised:
        train_scorecard(change(table), TARGET, version="x")
    assert raised.value.code == code


def test_psi_is_zero_for_the_same_sample_and_grows_with_a_shift() -> None:
    sample = np.arange(1000, dtype=np.float64)
    assert population_stability_index(sample, sample) == pytest.approx(0.0)
    assert population_stability_index(sample, sample + 300) > 0.25


@pytest.fixture
def cli() -> Any:
    app = flask.Flask(__name__)
    Babel(app, default_locale="zh_CN")
    app.cli.add_command(scorecard_cli)
    return app.test_cli_runner()


def run(cli: Any, *args: str) -> Any:
    return cli.invoke(args=list(args))


def test_cli_trains_and_scores_in_input_order(cli: Any, tmp_path: Path) -> None:
    data = tmp_path / "loans.csv"
    synthetic_table(n=400, seed=3).to_csv(data, index=False)
    model = tmp_path / "model.json"

    trained = run(
        cli,
        "scorecard",
        "train",
        "--data",
        str(data),
        "--target",
        TARGET,
        "--out",
        str(model),
        "--version",
        "cli-1",
        "--exclude",
        "borrower_id",
    )

    assert trained.exit_code == 0, trained.output
    assert "验证集 AUC：" in trained.output
    assert "验证集 KS：" in trained.output
    assert "对照（未调参的梯度提升树" in trained.output
    assert Scorecard.from_dict(json.loads(model.read_text(encoding="utf-8"))).version == "cli-1"
    report = json.loads((tmp_path / "model.report.json").read_text(encoding="utf-8"))
    assert report["validation"]["auc"] > 0.75
    # The default method is chosen by accuracy on the development rows, never the validation rows.
    assert report["selection"]["requested"] == "auto"
    check = report["selection"]["check_auc"]
    assert report["method"] == max(check, key=check.get)
    method_name = {"scorecard": "分箱逻辑回归评分卡", "ebm": "可解释加性提升模型（EBM）"}[report["method"]]
    assert f"模型类型：{method_name}" in trained.output
    assert report["reference"]["auc"] > 0.5 and report["validation"]["calibration"]
    assert (tmp_path / "model.report.png").read_bytes().startswith(b"\x89PNG")

    to_score = synthetic_table(n=50, seed=11).drop(columns=["sector"]).sample(frac=1, random_state=1)
    to_score.to_csv(tmp_path / "new.csv", index=False)
    scored = run(
        cli,
        "scorecard",
        "score",
        "--model",
        str(model),
        "--data",
        str(tmp_path / "new.csv"),
        "--out",
        str(tmp_path / "scores.csv"),
    )

    assert scored.exit_code == 0, scored.output
    assert "sector" in scored.output  # told that the column is absent, hence missing
    result = pd.read_csv(tmp_path / "scores.csv")
    assert result["borrower_id"].tolist() == to_score["borrower_id"].tolist()
    assert list(result.columns) == [*to_score.columns, "score"]
    scorecard = Scorecard.from_dict(json.loads(model.read_text(encoding="utf-8")))
    assert result["score"].tolist() == score_table(scorecard, to_score)


def test_cli_report_dir_and_text_target(cli: Any, tmp_path: Path) -> None:
    data = tmp_path / "loans.csv"
    synthetic_table(n=300).assign(bad=lambda df: np.where(df[TARGET] == 1, "坏", "好")).to_csv(
        data, index=False
    )

    result = run(
        cli,
        "scorecard",
        "train",
        "--data",
        str(data),
        "--target",
        TARGET,
        "--out",
        str(tmp_path / "m.json"),
        "--bad-value",
        "坏",
        "--report-dir",
        str(tmp_path / "reports"),
        "--method",
        "scorecard",
    )

    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / "m.report.json").is_file()
    assert (tmp_path / "reports" / "m.report.png").is_file()
    report = json.loads((tmp_path / "reports" / "m.report.json").read_text(encoding="utf-8"))
    # An explicit method is taken as given: nothing else is fitted to choose it.
    assert report["method"] == "scorecard" and "check_auc" not in report["selection"]
    assert "分箱逻辑回归评分卡" in result.output


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        (None, TARGET, "找不到数据文件"),
        ("", TARGET, "数据文件为空"),
        ("overdue_days,bad\n", TARGET, "没有数据行"),
        ("overdue_days,bad\n1,0\n2,1\n", "default", "没有目标列“default”"),
        ("overdue_days,bad\n1,0\n2,yes\n", TARGET, "只能为 0（好）或 1（坏）"),
        ("overdue_days,bad\n1,0\n2,\n", TARGET, "有空值"),
        ("overdue_days,bad\n" + "1,0\n" * 30, TARGET, "同时包含好（0）和坏（1）"),
    ],
)
def test_cli_train_explains_bad_input_in_chinese(
    cli: Any, tmp_path: Path, content: str | None, target: str, message: str
) -> None:
    data = tmp_path / "loans.csv"
    if content is not None:
        data.write_text(content, encoding="utf-8")

    result = run(
        cli, "scorecard", "train", "--data", str(data), "--target", target, "--out", str(tmp_path / "m.json")
    )

    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "m.json").exists()


def test_cli_score_explains_a_broken_model_in_chinese(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text(json.dumps({"format": "something-else"}), encoding="utf-8")
    (tmp_path / "new.csv").write_text("overdue_days\n1\n", encoding="utf-8")

    result = run(
        cli,
        "scorecard",
        "score",
        "--model",
        str(tmp_path / "model.json"),
        "--data",
        str(tmp_path / "new.csv"),
        "--out",
        str(tmp_path / "scores.csv"),
    )

    assert result.exit_code == 1
    assert "评分卡文件格式无效" in result.output


def test_auto_falls_back_to_the_scorecard_when_the_libraries_cannot_fit_a_small_table(
    table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """interpret and scikit-learn refuse some small tables (ValueError from their internals): `auto`
    then trains the scorecard and reports why, with no reference line; `ebm` by name is refused."""
    from credit_profile import training

    def cannot(*_args: Any, **_kwargs: Any) -> Any:
        raise ValueError("window shape cannot be larger than input array shape")

    monkeypatch.setattr(training, "choose_additive", cannot)
    monkeypatch.setattr(training, "hgb_reference", cannot)

    artefact, report = train_scorecard(table, TARGET, version="small", method="auto", exclude=["borrower_id"])

    assert report["method"] == "scorecard" and artefact["characteristics"]
    assert (
        report["selection"]["check_auc"]["ebm"] == 0.0
        and "window shape" in report["selection"]["ebm"]["error"]
    )
    assert report["reference"] is None
    with pytest.raises(TrainingDataError):
        train_scorecard(table, TARGET, version="small-ebm", method="ebm", exclude=["borrower_id"])
