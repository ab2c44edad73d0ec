"""Figures used by several notebooks: titled, labelled, with units."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

sns.set_theme(style="whitegrid", context="notebook")


def balance_grid(balance: dict[str, pd.DataFrame]) -> plt.Figure:
    """Bar charts of the label counts and heatmaps of the cross-tabulations."""
    fig, axes = plt.subplots(2, 4, figsize=(20, 9))
    for ax, key in zip(axes[0], ("emotion", "intensity", "gender", "statement")):
        s = balance[key]["files"]
        ax.bar(s.index.astype(str), s.values, color=sns.color_palette("deep")[0])
        ax.set(title=f"Files per {key}", xlabel=key, ylabel="files")
        ax.tick_params(axis="x", rotation=45)
    for ax, key in zip(axes[1], ("emotion x intensity", "emotion x gender", "sentiment x gender")):
        sns.heatmap(balance[key], annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
        ax.set(title=f"Files: {key}")
    s = balance["sentiment"]["files"]
    axes[1, 3].bar(s.index, s.values, color=sns.color_palette("deep")[2])
    axes[1, 3].set(title="Files per sentiment", xlabel="sentiment", ylabel="files")
    fig.tight_layout()
    return fig


def corpus_balance(balance: dict[str, pd.DataFrame]) -> plt.Figure:
    """Heatmaps of the labels per corpus (several corpora side by side)."""
    keys = ("emotion x corpus", "sentiment x corpus", "actors x corpus")
    fig, axes = plt.subplots(1, len(keys), figsize=(18, 4.8))
    for ax, key in zip(axes, keys):
        sns.heatmap(balance[key], annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
        ax.set(title=f"Files: {key}" if key != "actors x corpus" else "Actors by gender and corpus")
    fig.tight_layout()
    return fig


def box_by(df: pd.DataFrame, y: str, x: str, hue: str | None, title: str, ylabel: str,
           order: list[str] | None = None, ax=None, kind: str = "box") -> plt.Axes:
    ax = ax or plt.subplots(figsize=(11, 4))[1]
    plot = sns.violinplot if kind == "violin" else sns.boxplot
    kw = {"cut": 0, "inner": "quartile"} if kind == "violin" else {"fliersize": 2}
    plot(data=df, x=x, y=y, hue=hue, order=order, ax=ax, **kw)
    ax.set(title=title, xlabel=x, ylabel=ylabel)
    ax.tick_params(axis="x", rotation=30)
    return ax


def waveform_mel_grid(clips: list[tuple[str, np.ndarray]], sr: int) -> plt.Figure:
    """One row per clip: waveform (amplitude vs seconds) and log-mel spectrogram (dB)."""
    import librosa
    import librosa.display

    fig, axes = plt.subplots(len(clips), 2, figsize=(15, 2.1 * len(clips)),
                             gridspec_kw={"width_ratios": [1, 1.25]})
    for (label, y), (a1, a2) in zip(clips, axes):
        t = np.arange(y.size) / sr
        a1.plot(t, y, lw=0.5)
        a1.set(ylabel="amplitude", xlim=(0, t[-1]))
        a1.set_title(label, loc="left", fontsize=10)
        mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=64), ref=np.max)
        img = librosa.display.specshow(mel, sr=sr, x_axis="time", y_axis="mel", ax=a2, cmap="magma")
        a2.set(ylabel="Hz")
        fig.colorbar(img, ax=a2, format="%+.0f dB", pad=0.01)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("time (s)")
    fig.suptitle("One utterance per emotion (same actor and statement): waveform and log-mel spectrogram",
                 y=1.0)
    fig.tight_layout()
    return fig


def scatter_2d(Z: np.ndarray, labels: pd.Series, title: str, ax=None, legend_cols: int = 1) -> plt.Axes:
    ax = ax or plt.subplots(figsize=(7, 6))[1]
    labels = pd.Series(labels)
    cats = (list(labels.cat.categories) if isinstance(labels.dtype, pd.CategoricalDtype)
            else sorted(labels.unique(), key=str))
    palette = sns.color_palette("tab20" if len(cats) > 10 else "tab10", len(cats))
    for c, col in zip(cats, palette):
        m = (labels == c).to_numpy()
        ax.scatter(Z[m, 0], Z[m, 1], s=9, color=col, label=str(c), alpha=0.8)
    ax.set(title=title, xlabel="t-SNE 1", ylabel="t-SNE 2")
    ax.legend(fontsize=7, markerscale=2, ncol=legend_cols, loc="best", frameon=True)
    return ax


def confusion(cm: np.ndarray, classes: list[str], title: str, ax=None) -> plt.Axes:
    """Row-normalised confusion matrix (recall per true class, %) with counts in the cells."""
    ax = ax or plt.subplots(figsize=(1.0 + 0.75 * len(classes), 0.8 + 0.65 * len(classes)))[1]
    pct = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) * 100
    annot = np.array([[f"{p:.0f}%\n({n})" for p, n in zip(rp, rn)] for rp, rn in zip(pct, cm)])
    sns.heatmap(pct, annot=annot, fmt="", cmap="Blues", vmin=0, vmax=100, cbar=False, ax=ax,
                xticklabels=classes, yticklabels=classes, annot_kws={"fontsize": 7 if len(classes) > 8 else 9})
    ax.set(title=title, xlabel="predicted", ylabel="true")
    ax.tick_params(axis="x", rotation=45)
    ax.tick_params(axis="y", rotation=0)
    return ax


def learning_curves(histories: list[dict[str, list[float]]], title: str) -> plt.Figure:
    """Loss and accuracy per epoch, one line per fold (train dashed, validation solid)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4))
    for i, h in enumerate(histories, 1):
        col = sns.color_palette("tab10")[i % 10]
        a1.plot(h["loss"], "--", color=col, alpha=0.6)
        a1.plot(h["val_loss"], color=col, label=f"fold {i}")
        acc = next((k for k in h if k.endswith("accuracy") and not k.startswith("val")), None)
        if acc:
            a2.plot(h[acc], "--", color=col, alpha=0.6)
            a2.plot(h["val_" + acc], color=col, label=f"fold {i}")
    a1.set(title=f"{title}: loss (dashed = train, solid = validation actors)", xlabel="epoch",
           ylabel="cross-entropy")
    a2.set(title=f"{title}: accuracy", xlabel="epoch", ylabel="accuracy")
    a1.legend(fontsize=8)
    fig.tight_layout()
    return fig


def compare_bars(df: pd.DataFrame, value: str, err: str, label: str, title: str,
                 refs: dict[str, float] | None = None, chance: float | None = None) -> plt.Figure:
    """Horizontal bars with fold std as error bars, plus reference lines (published figures)."""
    df = df.sort_values(value)
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(df) + 1.8))
    ax.barh(df[label], df[value] * 100, xerr=df[err] * 100, color=sns.color_palette("deep")[0], capsize=3)
    for i, (name, v) in enumerate((refs or {}).items()):
        ax.axvline(v, color=sns.color_palette("deep")[1 + i % 6], ls="--", lw=1.2)
        ax.text(v, len(df) - 0.4 - 0.55 * i, f" {name} {v:.1f}", fontsize=8, va="top")
    if chance:
        ax.axvline(chance * 100, color="grey", ls=":", lw=1)
        ax.text(chance * 100, -0.6, " chance", fontsize=8, color="grey")
    ax.set(title=title, xlabel=f"{value.upper()} (%)  — mean ± std over folds", xlim=(0, 100))
    fig.tight_layout()
    return fig


def reliability(table: pd.DataFrame, title: str, ax=None, label: str = "", color: str | None = None) -> plt.Axes:
    """Reliability diagram from ``calibration.reliability``: accuracy against mean confidence per
    bin (marker size ~ clips), with the diagonal of perfect calibration."""
    ax = ax or plt.gca()
    t = table.dropna()
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
    ax.plot(t.confidence, t.accuracy, marker="o", lw=1.2, label=label, color=color)
    ax.scatter(t.confidence, t.accuracy, s=10 + 200 * t.n / max(1, t.n.max()), alpha=0.3, color=color)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=title)
    return ax


def robustness(table: pd.DataFrame, title: str, ax=None) -> plt.Axes:
    """UA (%) per candidate (rows) and perturbation (columns, clean first), annotated; a column
    ``loco_<corpus>`` (UA on that corpus, never seen) is labelled ``unseen <corpus>``."""
    cols = [c for c in table.columns if c not in ("task", "model", "features", "normalisation", "ua_robust",
                                                  "worst", "drop_worst", "dataset", "training", "ua_loco")]
    M = table[cols].to_numpy(float) * 100
    ax = ax or plt.gca()
    ax.imshow(M, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    ax.grid(False)
    for (i, j), v in np.ndenumerate(M):
        ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(cols)), [f"unseen {c[5:]}" if c.startswith("loco_") else c for c in cols],
                  rotation=35, ha="right", fontsize=8)
    names = table.task + ": " + table.model + " / " + table.features
    if "training" in table:
        names = names + " (" + table.training + ")"
    ax.set_yticks(range(len(table)), names, fontsize=8)
    ax.set_title(title)
    return ax


def within_vs_target(res: pd.DataFrame, within_col: str, trained_on: str, target: str, chance: float) -> plt.Figure:
    """Horizontal bars per approach: UA inside the training corpora (grey) and on the target (blue),
    with emotion chance marked (``res``: the cross-corpus table of notebook 08)."""
    fig, ax = plt.subplots(figsize=(9, max(3.5, 1.6 + 0.55 * len(res))))  # a row per approach, never cramped
    labels = res.approach + "\n" + res.task + " · " + res.model + " / " + res.features + " / " + res.normalisation
    ypos = np.arange(len(res))
    ax.barh(ypos + 0.2, res[within_col].fillna(0), height=0.4, label=f"within {trained_on} (6 folds)", color="tab:grey")
    ax.barh(ypos - 0.2, res["UA %"], height=0.4, label=f"on {target}", color="tab:blue")
    ax.axvline(chance, color="tab:red", ls="--", lw=1, label="chance (emotion)")
    ax.set_yticks(ypos, labels, fontsize=7)
    ax.set(xlabel="UA (%)", xlim=(0, 100), title=f"Cross-corpus: trained on {trained_on}, tested on {target}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / max(1, len(res))), ncol=3)  # below: bars reach 100
    fig.tight_layout()
    return fig
