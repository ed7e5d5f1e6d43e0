"""Data set and plotting helpers for Planar_MLP (shipped to students with the notebook)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np


def load_planar_dataset(points_per_class: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Return the two-class "flower" data set: X of shape (2, m), Y of shape (1, m).

    The recipe is the classic one (SPEC.md): NumPy's global generator is seeded
    with 1, then each class j gets evenly spaced angles over [3.12 j, 3.12 (j+1)]
    plus noise and petal radii 4 sin(4t) plus noise.
    """
    np.random.seed(1)
    n = points_per_class
    m = 2 * n
    X = np.zeros((m, 2))
    Y = np.zeros((m, 1), dtype="uint8")
    petal_length = 4
    for j in range(2):
        ix = range(n * j, n * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, n) + np.random.randn(n) * 0.2
        r = petal_length * np.sin(4 * t) + np.random.randn(n) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def accuracy(predictions: np.ndarray, Y: np.ndarray) -> float:
    """Fraction of labels in `predictions` (1, m) that equal `Y` (1, m)."""
    predictions = np.asarray(predictions).reshape(-1)
    return float(np.mean(predictions == np.asarray(Y).reshape(-1)))


def plot_dataset(X: np.ndarray, Y: np.ndarray, ax=None):
    """Scatter plot of a 2-D data set coloured by label; returns the axes."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    ax.scatter(X[0, :], X[1, :], c=np.asarray(Y).reshape(-1), s=20, cmap=plt.cm.Spectral)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax


def plot_decision_boundary(
    predict_fn: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    ax=None,
    title: str | None = None,
    resolution: float = 0.01,
):
    """Shade the regions `predict_fn` assigns to each class and overlay the data.

    `predict_fn` takes points of shape (n_points, 2) and returns one label per point,
    as in ``lambda P: predict(parameters, P.T)``.
    """
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    x_min, x_max = X[0, :].min() - 1, X[0, :].max() + 1
    y_min, y_max = X[1, :].min() - 1, X[1, :].max() + 1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, resolution), np.arange(y_min, y_max, resolution))
    Z = np.asarray(predict_fn(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    ax.contourf(xx, yy, Z, cmap=plt.cm.Spectral)
    plot_dataset(X, Y, ax=ax)
    if title:
        ax.set_title(title)
    return ax


def load_numpy_parameters(model, parameters: dict) -> None:
    """Copy NumPy parameters W1, b1, W2, b2 into a TorchMLP's `hidden` and `output` layers.

    Lets the PyTorch model start from exactly the weights the NumPy model uses.
    """
    import torch

    with torch.no_grad():
        for layer, w, b in ((model.hidden, "W1", "b1"), (model.output, "W2", "b2")):
            layer.weight.copy_(torch.as_tensor(parameters[w], dtype=layer.weight.dtype))
            layer.bias.copy_(torch.as_tensor(parameters[b], dtype=layer.bias.dtype).reshape(-1))
