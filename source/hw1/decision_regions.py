"""Problem 2 helpers (shipped to students with the notebook): a tiny layer API for
threshold-style networks, and the figures of the problem.

Layer API
---------
A network maps points X of shape (2, N) (one point per **column**, rows x1 and x2) to
outputs of shape (1, N). It is a list of layers; each layer has a weight matrix W of
shape (units, inputs), a bias b of shape (units,), and one activation applied to every
unit of the layer:

    "step"      1 if z > 0 else 0   (a threshold unit)
    "relu"      max(z, 0)
    "abs"       |z|
    "identity"  z

    net = Network([Layer(W1, b1, "step"), Layer(W2, b2, "abs")])
    net(X)            # outputs, shape (1, N)
    net.classify(X)   # class labels 0/1, shape (N,): output > 0.5 means class 1
    net.units         # number of units (neurons) in all layers, output unit included
    net.depth         # number of layers (hidden layers + the output layer)

Figures
-------
The handout's figures were lost; `show_figure1()` and `show_range4()` redraw them from
the instructor's reference networks below.

Why the reference networks are here, and in this form: the figures must render in the
notebook you receive, without any of your code, so the networks that draw them have to
ship with it. They are written as plain NumPy compositions, one fixed function per
figure, not as `Network` objects and not for general n. The graded questions ask for
more than they contain: networks built with the layer API above, with the structure of
Figure 1(a) (one unit per input coordinate in the first layer), a closed-form rule for
any range [0, 2^n], a deep network for every n whose size grows only linearly in n, and
a network with a single hidden layer. The written explanations are graded by hand.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "step": lambda z: (z > 0).astype(float),
    "relu": lambda z: np.maximum(z, 0.0),
    "abs": np.abs,
    "identity": lambda z: z,
}


class Layer:
    """One layer of units: activation(W @ H + b) for inputs H of shape (inputs, N)."""

    def __init__(self, W, b, activation: str = "step"):
        W = np.array(W, dtype=float, ndmin=2)
        b = np.array(b, dtype=float).reshape(-1)
        if W.ndim != 2:
            raise ValueError(f"W must be a matrix of shape (units, inputs), got shape {W.shape}")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must hold one bias per unit ({W.shape[0]}), got shape {b.shape}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.W, self.b, self.activation = W, b, activation

    @property
    def units(self) -> int:
        return self.W.shape[0]

    @property
    def inputs(self) -> int:
        return self.W.shape[1]

    def __call__(self, H: np.ndarray) -> np.ndarray:
        return ACTIVATIONS[self.activation](self.W @ H + self.b[:, None])

    def __repr__(self) -> str:
        return f"Layer({self.inputs} -> {self.units}, {self.activation})"


class Network:
    """A feed-forward network: a list of layers applied in order to points X of shape (2, N)."""

    def __init__(self, layers: Sequence[Layer]):
        layers = list(layers)
        if not layers:
            raise ValueError("a network needs at least one layer")
        if layers[0].inputs != 2:
            raise ValueError(f"the first layer must take the 2 inputs x1, x2, not {layers[0].inputs}")
        for number, (before, after) in enumerate(zip(layers, layers[1:]), start=2):
            if after.inputs != before.units:
                raise ValueError(f"layer {number} takes {after.inputs} inputs "
                                 f"but layer {number - 1} has {before.units} units")
        if layers[-1].units != 1:
            raise ValueError(f"the output layer must have 1 unit, not {layers[-1].units}")
        self.layers = layers

    @property
    def units(self) -> int:
        return sum(layer.units for layer in self.layers)

    @property
    def depth(self) -> int:
        return len(self.layers)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        H = np.asarray(X, dtype=float)
        for layer in self.layers:
            H = layer(H)
        return H

    def classify(self, X: np.ndarray) -> np.ndarray:
        return (self(X)[0] > 0.5).astype(int)

    def __repr__(self) -> str:
        return f"Network(depth={self.depth}, units={self.units}: " + ", ".join(map(repr, self.layers)) + ")"


# --- the reference networks of the figures (see the module docstring) ---------------

def _step(z: np.ndarray) -> np.ndarray:
    return (z > 0).astype(float)


def figure_1b(X: np.ndarray) -> np.ndarray:
    """Figure 1(b) on [0, 1]^2: h11 = f11(x1), h12 = f12(x2), y = g(h11, h12)."""
    h11 = _step(X[0] - 0.5)
    h12 = _step(X[1] - 0.5)
    return np.abs(h11 - h12).astype(int)


def figure_1c(X: np.ndarray) -> np.ndarray:
    """Figure 1(c) on [0, 2]^2: one extra layer in front of Figure 1(b)'s network."""
    U = 1.0 - np.abs(np.asarray(X, dtype=float) - 1.0)
    return figure_1b(U)


def figure_range4(X: np.ndarray) -> np.ndarray:
    """The same construction on [0, 4]^2 (part 3)."""
    U = 2.0 - np.abs(np.asarray(X, dtype=float) - 2.0)
    return figure_1c(U)


# --- plotting -------------------------------------------------------------------------

CLASS_COLOURS = ("#f4a582", "#92c5de")  # class 0, class 1


def plot_regions(classify: Callable[[np.ndarray], np.ndarray], size: float, ax=None, title: str | None = None,
                 resolution: int = 400):
    """Shade the class of every point of [0, size]^2 as given by `classify` (points (2, N) -> labels (N,))."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    ax = ax or plt.gca()
    grid = (np.arange(resolution) + 0.5) * size / resolution
    G1, G2 = np.meshgrid(grid, grid)
    labels = np.asarray(classify(np.vstack([G1.ravel(), G2.ravel()]))).reshape(G1.shape)
    ax.imshow(labels, origin="lower", extent=(0, size, 0, size), cmap=ListedColormap(CLASS_COLOURS),
              vmin=0, vmax=1, interpolation="nearest")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_xticks(np.arange(0, size + 1e-9, 0.5 if size <= 2 else 1))
    ax.set_yticks(np.arange(0, size + 1e-9, 0.5 if size <= 2 else 1))
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    ax.legend(handles=[Patch(color=CLASS_COLOURS[0], label="class 0"), Patch(color=CLASS_COLOURS[1], label="class 1")],
              loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    return ax


def draw_figure_1a(ax=None):
    """Figure 1(a): x1 -> h11 = f11(x1), x2 -> h12 = f12(x2), (h11, h12) -> y = g(h11, h12)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    nodes = {"$x_1$": (0, 1.0), "$x_2$": (0, 0.0), "$h_{11}$": (1, 1.0), "$h_{12}$": (1, 0.0), "$y$": (2, 0.5)}
    edges = [("$x_1$", "$h_{11}$", "$f_{11}$"), ("$x_2$", "$h_{12}$", "$f_{12}$"),
             ("$h_{11}$", "$y$", ""), ("$h_{12}$", "$y$", "")]
    for start, end, label in edges:
        (x0, y0), (x1, y1) = nodes[start], nodes[end]
        ax.annotate("", xy=(x1 - 0.13 * (x1 - x0), y1 - 0.13 * (y1 - y0) / max(abs(x1 - x0), 1e-9)),
                    xytext=(x0 + 0.13, y0 + 0.13 * (y1 - y0)), arrowprops=dict(arrowstyle="->", lw=1.2))
        if label:
            ax.text((x0 + x1) / 2, y0 + 0.08, label, ha="center", fontsize=11)
    for name, (x, y) in nodes.items():
        ax.add_patch(plt.Circle((x, y), 0.12, fill=True, color="white", ec="black", zorder=3))
        ax.text(x, y, name, ha="center", va="center", fontsize=11, zorder=4)
    ax.text(2, 0.2, "$g$", ha="center", fontsize=11)
    ax.set_xlim(-0.3, 2.3)
    ax.set_ylim(-0.4, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("(a) network structure")
    return ax


def show_figure1():
    """Figure 1: (a) the network of part 1, (b) its decision regions on [0,1]^2, (c) those on [0,2]^2."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    draw_figure_1a(axes[0])
    plot_regions(figure_1b, 1.0, axes[1], "(b) decision regions, $x_1, x_2 \\in [0, 1]$")
    plot_regions(figure_1c, 2.0, axes[2], "(c) decision regions, $x_1, x_2 \\in [0, 2]$")
    fig.tight_layout()
    plt.show()


def show_range4():
    """The decision regions of the same construction on [0, 4]^2 (part 3)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    plot_regions(figure_range4, 4.0, ax, "decision regions, $x_1, x_2 \\in [0, 4]$")
    fig.tight_layout()
    plt.show()


def show_network(net: Network, size: float, title: str | None = None):
    """Draw the decision regions of your own `net` on [0, size]^2."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    plot_regions(net.classify, size, ax, title or f"{net.depth} layers, {net.units} units")
    fig.tight_layout()
    plt.show()
