"""Instructor-only reference for Planar_MLP: expected values for every case.

Gradients come from PyTorch autograd on the reference loss and are cross-checked
against central differences, so they do not rest on a hand-derived formula.

Besides the right answer, `expected` lists known wrong answers ("mistakes": what a
common slip would produce, with a one-sentence explanation) so a failing check can name
the likely cause, and, for the composed functions, the whole training trajectory, which
the checks replay in place of the student's helpers (question isolation).
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from .cases import hidden_cases

PARAMS = ("W1", "b1", "W2", "b2")

# Hidden cases vary only what a public case varies too (hw1_checks.planar_mlp.PUBLIC_CASES): other
# seeds and other non-square sizes (n_x != n_h != m catches transposed products), other learning
# rates, and n_y > 1 only where the text asks for it (layer_sizes, initialize_parameters): the
# network has one output unit, and the classic template's `assert(A2.shape == (1, X.shape[1]))`
# must not cost points. Cases on the notebook's own flower data (`flower=True`, with the standard
# starting weights, or random ones when a seed is given) catch answers that recognise that data.
HIDDEN_CASES: dict[str, list[dict]] = hidden_cases("q4_")  # edit them in the notebook's hidden blocks


def special_inputs(case: dict) -> dict | None:
    """Inputs of the cases on the notebook's flower data: X (2, 400), Y (1, 400) as floats, the standard
    starting weights, or random weights (and A2, gradients) drawn as `make_inputs` draws them when the
    case has a seed."""
    if not case.get("flower"):
        return None
    from planar_utils import load_planar_dataset

    X, Y = load_planar_dataset()
    n_h = case["n_h"]
    inputs = {**case, "n_x": X.shape[0], "n_y": Y.shape[0], "m": X.shape[1], "X": X, "Y": Y.astype(float)}
    if "seed" not in case:
        return {**inputs, "parameters": initialize_parameters(X.shape[0], n_h, 1)}
    rng = np.random.default_rng(case["seed"])
    params = {"W1": rng.normal(scale=0.8, size=(n_h, 2)), "b1": rng.normal(scale=0.3, size=(n_h, 1)),
              "W2": rng.normal(scale=0.8, size=(1, n_h)), "b2": rng.normal(scale=0.3, size=(1, 1))}
    inputs["parameters"] = params
    inputs["A2"] = rng.uniform(0.05, 0.95, size=Y.shape)
    inputs["grads"] = {"d" + k: rng.normal(size=v.shape) for k, v in params.items()}
    return inputs


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


ACTIVATIONS = {  # hidden-layer activation and its derivative written in terms of Z
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "softsign": (lambda z: z / (1 + np.abs(z)), lambda z: 1 / (1 + np.abs(z)) ** 2),  # the checks' probe model
}


def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict:
    np.random.seed(2)
    W1 = np.random.randn(n_h, n_x) * 0.01
    W2 = np.random.randn(n_y, n_h) * 0.01
    return {"W1": W1, "b1": np.zeros((n_h, 1)), "W2": W2, "b2": np.zeros((n_y, 1))}


def forward_propagation(X: np.ndarray, parameters: dict, activation: str = "tanh") -> tuple[np.ndarray, dict]:
    Z1 = parameters["W1"] @ X + parameters["b1"]
    A1 = ACTIVATIONS[activation][0](Z1)
    Z2 = parameters["W2"] @ A1 + parameters["b2"]
    A2 = sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(A2: np.ndarray, Y: np.ndarray) -> float:
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m)


def autograd_gradients(parameters: dict, X: np.ndarray, Y: np.ndarray) -> dict:
    """Gradients of the mean cross-entropy by PyTorch autograd in float64."""
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in parameters.items()}
    Xt, Yt = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    A1 = torch.tanh(tensors["W1"] @ Xt + tensors["b1"])
    A2 = torch.sigmoid(tensors["W2"] @ A1 + tensors["b2"])
    cost = -(Yt * torch.log(A2) + (1 - Yt) * torch.log(1 - A2)).sum() / X.shape[1]
    cost.backward()
    return {"d" + k: t.grad.numpy() for k, t in tensors.items()}


def central_difference_gradients(parameters: dict, X: np.ndarray, Y: np.ndarray, eps: float = 1e-6) -> dict:
    """Gradients of the reference cost by central differences (an independent cross-check)."""
    grads = {}
    for name in PARAMS:
        grad = np.zeros_like(parameters[name])
        for index in np.ndindex(grad.shape):
            shifted = {k: v.copy() for k, v in parameters.items()}
            shifted[name][index] += eps
            plus = compute_cost(forward_propagation(X, shifted)[0], Y)
            shifted[name][index] -= 2 * eps
            minus = compute_cost(forward_propagation(X, shifted)[0], Y)
            grad[index] = (plus - minus) / (2 * eps)
        grads["d" + name] = grad
    return grads


def backward_propagation(parameters: dict, X: np.ndarray, Y: np.ndarray) -> dict:
    grads = autograd_gradients(parameters, X, Y)
    numeric = central_difference_gradients(parameters, X, Y)
    for key, value in grads.items():  # the two references must agree before we trust either
        assert np.allclose(value, numeric[key], rtol=1e-5, atol=1e-8), key
    return grads


def closed_form_gradients(parameters: dict, cache: dict, X: np.ndarray, Y: np.ndarray, activation: str = "tanh",
                          loss: str = "bce", derivative=None) -> dict:
    """Gradients by the backpropagation formulas (cross-checked against autograd in the tests);
    `loss="mse"` and `derivative` produce the gradients of common mistakes."""
    m = X.shape[1]
    A2 = cache["A2"]
    if loss == "bce":
        dZ2 = (A2 - Y) / m
    else:  # mean squared error through the sigmoid (torch's mse_loss averages over every entry)
        dZ2 = 2 * (A2 - Y) / A2.size * A2 * (1 - A2)
    slope = derivative(cache) if derivative else ACTIVATIONS[activation][1](cache["Z1"])
    dZ1 = (parameters["W2"].T @ dZ2) * slope
    return {"dW1": dZ1 @ X.T, "db1": dZ1.sum(axis=1, keepdims=True),
            "dW2": dZ2 @ cache["A1"].T, "db2": dZ2.sum(axis=1, keepdims=True)}


def update_parameters(parameters: dict, grads: dict, learning_rate: float) -> dict:
    return {k: parameters[k] - learning_rate * grads["d" + k] for k in PARAMS}


def train(parameters: dict, X: np.ndarray, Y: np.ndarray, num_iterations: int, learning_rate: float = 1.2,
          activation: str = "tanh", loss: str = "bce", record: bool = False):
    """Full-batch gradient descent; returns the final parameters and the cost before each step
    (and, with `record`, the whole trajectory: parameters, caches, costs and gradients)."""
    parameters, costs = copy.deepcopy(parameters), []
    table = {"parameters": [parameters], "caches": [], "grads": []}
    for _ in range(num_iterations):
        A2, cache = forward_propagation(X, parameters, activation)
        costs.append(compute_cost(A2, Y) if loss == "bce" else float(np.mean((A2 - Y) ** 2)))
        grads = closed_form_gradients(parameters, cache, X, Y, activation, loss)
        parameters = update_parameters(parameters, grads, learning_rate)
        if record:
            table["caches"].append(cache)
            table["grads"].append(grads)
            table["parameters"].append(parameters)
    if not record:
        return parameters, costs
    table["caches"].append(forward_propagation(X, parameters, activation)[1])
    table["costs"] = costs + [compute_cost(table["caches"][-1]["A2"], Y)]
    return parameters, costs, table


def torch_costs(parameters: dict, X: np.ndarray, Y: np.ndarray, num_iterations: int, learning_rate: float,
                activation: str, optimizer: str = "sgd", row_labels: bool = False) -> list[float]:
    """The costs PyTorch itself records for common train_torch slips: another optimizer (Adam, momentum),
    labels left in shape (1, m) against the (m, 1) output (the loss broadcasts them to (m, m))."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in parameters.items()}
    act = {"tanh": torch.tanh, "softsign": torch.nn.functional.softsign}[activation]
    inputs, targets = torch.tensor(X.T), torch.tensor(Y if row_labels else Y.T)
    make = {"sgd": lambda p: torch.optim.SGD(p, lr=learning_rate),
            "momentum": lambda p: torch.optim.SGD(p, lr=learning_rate, momentum=0.9),
            "adam": lambda p: torch.optim.Adam(p, lr=learning_rate)}
    step = make[optimizer](list(t.values()))
    costs = []
    for _ in range(num_iterations):
        step.zero_grad()
        out = torch.sigmoid(act(inputs @ t["W1"].T + t["b1"].T) @ t["W2"].T + t["b2"].T)
        loss = -(targets * torch.log(out) + (1 - targets) * torch.log(1 - out)).mean()
        loss.backward()
        step.step()
        costs.append(float(loss.detach()))
    return costs


def near_boundary(parameters: dict, X: np.ndarray, margin: float = 1e-6, activation: str = "tanh") -> np.ndarray:
    """Points whose probability is too close to 0.5 to judge a 0/1 label."""
    A2, _ = forward_propagation(X, parameters, activation)
    return np.abs(A2 - 0.5) < margin


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def mistakes(question: str, inputs: dict, right: dict) -> dict:
    """Known wrong answers of `question` on these inputs: {key: [[explanation, value], ...]}."""
    X, Y, params = inputs.get("X"), inputs.get("Y"), inputs.get("parameters")
    if question == "q4_initialize_parameters":
        n_x, n_h, n_y = inputs["n_x"], inputs["n_h"], inputs["n_y"]
        np.random.seed(2)
        uniform = {"W1": np.random.rand(n_h, n_x) * 0.01, "W2": np.random.rand(n_y, n_h) * 0.01}
        np.random.seed(2)
        w2_first = {"W2": np.random.randn(n_y, n_h) * 0.01}
        w2_first["W1"] = np.random.randn(n_h, n_x) * 0.01
        return {key: [["draw the weights with np.random.randn (a normal distribution), not np.random.rand.",
                       uniform[key]],
                      ["draw W1 first, then W2, right after np.random.seed(2): the order decides the numbers.",
                       w2_first[key]]]
                for key in ("W1", "W2")}
    if question == "q4_forward_propagation":
        Z1, A1, Z2 = right["Z1"], right["A1"], right["Z2"]
        W1, W2, b1, b2 = params["W1"], params["W2"], params["b1"], params["b2"]
        return {
            "Z1": [["Z1 is missing the bias: Z1 = W1 @ X + b1.", W1 @ X],
                   ["Z1 adds b2, the output layer's bias: the hidden layer adds b1 (Z1 = W1 @ X + b1).", W1 @ X + b2]],
            "A1": [["A1 is sigmoid(Z1): the hidden layer uses np.tanh.", sigmoid(Z1)],
                   ["A1 is ReLU(Z1): the hidden layer uses np.tanh.", _relu(Z1)],
                   ["A1 equals Z1: apply np.tanh to Z1 to get A1.", Z1]],
            "Z2": [["Z2 uses Z1; it must use the activations A1 = tanh(Z1).", W2 @ Z1 + b2],
                   ["Z2 is missing the bias: Z2 = W2 @ A1 + b2.", W2 @ A1],
                   ["Z2 adds b1, the hidden layer's bias: the output layer adds b2 (Z2 = W2 @ A1 + b2).",
                    W2 @ A1 + b1]],
            "A2": [["A2 is tanh(Z2): the output layer uses the sigmoid 1 / (1 + np.exp(-Z2)).", np.tanh(Z2)],
                   ["A2 equals Z2 (the logits): apply the sigmoid to get probabilities.", Z2],
                   ["A2 is 1 - sigmoid(Z2): the sigmoid is 1 / (1 + np.exp(-Z2)), with a minus sign.", sigmoid(-Z2)]],
        }
    if question == "q4_compute_cost":
        A2, m, cost = inputs["A2"], Y.shape[1], right["cost"]
        return {"cost": [
            ["the cost is negative: J = -(1/m) * sum(...) has a minus sign in front.", -cost],
            ["the cost keeps only the Y * log(A2) term: add (1 - Y) * log(1 - A2).",
             float(-np.sum(Y * np.log(A2)) / m)],
            ["log(A2) goes with Y and log(1 - A2) with 1 - Y; they are swapped.",
             float(-np.sum(Y * np.log(1 - A2) + (1 - Y) * np.log(A2)) / m)],
            ["this is the mean squared error; the cost is the cross-entropy with np.log.",
             float(np.mean((A2 - Y) ** 2))],
            ["use the natural logarithm np.log, not log10.", cost / np.log(10)],
            ["use the natural logarithm np.log, not log2.", cost / np.log(2)],
        ]}
    if question == "q4_backward_propagation":
        cache = right["cache"]
        A1 = cache["A1"]
        wrong = {
            "dZ1 uses the sigmoid's derivative A1 * (1 - A1); the hidden layer is tanh, whose derivative is 1 - A1**2.":
                closed_form_gradients(params, cache, X, Y, derivative=lambda c: c["A1"] * (1 - c["A1"])),
            "the derivative of tanh is 1 - A1**2 (A1 squared), not 1 - A1.":
                closed_form_gradients(params, cache, X, Y, derivative=lambda c: 1 - c["A1"]),
            "dZ1 misses the factor (1 - A1**2), the derivative of tanh.":
                closed_form_gradients(params, cache, X, Y, derivative=lambda c: np.ones_like(A1)),
            "use the activations in tanh's derivative, 1 - A1**2, not 1 - Z1**2.":
                closed_form_gradients(params, cache, X, Y, derivative=lambda c: 1 - c["Z1"] ** 2),
            "the gradients have the wrong sign: dZ2 = A2 - Y (prediction minus label).":
                {k: -v for k, v in right.items() if k != "cache"},
        }
        return {key: [[text, grads[key]] for text, grads in wrong.items()] for key in ("dW1", "db1", "dW2", "db2")}
    if question == "q4_update_parameters":
        rate, grads = inputs.get("learning_rate") or 1.2, inputs["grads"]
        out = {}
        for key in PARAMS:
            out[key] = [[f"the learning rate is missing: {key} - learning_rate * d{key}.",
                         params[key] - grads["d" + key]]]
            if rate != 1.2:
                out[key].insert(0, ["update_parameters ignores its learning_rate argument (it uses 1.2): "
                                    "use learning_rate.",
                                    params[key] - 1.2 * grads["d" + key]])
        return out
    if question == "q4_torch_mlp":
        W1, b1, W2, b2 = (params[k] for k in PARAMS)
        Z1 = W1 @ X + b1
        return {"A2": [
            ["the hidden layer uses ReLU; it must use torch.tanh.", sigmoid(W2 @ _relu(Z1) + b2)],
            ["the hidden layer uses the sigmoid; it must use torch.tanh.", sigmoid(W2 @ sigmoid(Z1) + b2)],
            ["the hidden layer has no activation: apply torch.tanh after `hidden`.", sigmoid(W2 @ Z1 + b2)],
            ["every output is 1: softmax over a single output is always 1; use torch.sigmoid.",
             np.ones_like(right["A2"])],
        ]}
    if question == "q4_train_torch":
        steps, rate, activation = inputs["num_iterations"], inputs["learning_rate"], _activation(inputs)
        out = [["the loss is the mean squared error; use the binary cross-entropy.",
                train(params, X, Y, steps, rate, activation, loss="mse")[1]],
               ["the costs are recorded after each step; record loss.item() before optimizer.step().",
                train(params, X, Y, steps + 1, rate, activation)[1][1:]]]
        if rate != 1.2:
            out.insert(0, ["train_torch ignores its learning_rate argument (it uses 1.2): pass lr=learning_rate.",
                           train(params, X, Y, steps, 1.2, activation)[1]])
        sgd = "the text asks for plain gradient descent: torch.optim.SGD(model.parameters(), lr=learning_rate)"
        out += [[f"train_torch uses Adam; {sgd}.", torch_costs(params, X, Y, steps, rate, activation, "adam")],
                [f"train_torch uses SGD with momentum; {sgd}, no momentum.",
                 torch_costs(params, X, Y, steps, rate, activation, "momentum")],
                ["the labels have shape (1, m) but the model's output has shape (m, 1), so the loss broadcasts "
                 "them to an (m, m) matrix: use Y.T, shape (m, 1), as the given line does.",
                 torch_costs(params, X, Y, steps, rate, activation, row_labels=True)]]
        return {"costs": out}
    return {}


def _activation(inputs: dict) -> str:
    """train_torch and torch_predict are graded on the checks' softsign probe model (their text says they are
    tested on a model the grader builds)."""
    return "softsign"


def expected(question: str, inputs: dict) -> dict:
    """The reference answer of `question` on one case's inputs (see hw1_checks.planar_mlp)."""
    result = _right(question, inputs)
    found = mistakes(question, inputs, result)
    if found:
        result["mistakes"] = found
    return result


def _right(question: str, inputs: dict) -> dict:
    X, Y, params = inputs.get("X"), inputs.get("Y"), inputs.get("parameters")
    if question == "q4_layer_sizes":
        return {"sizes": [X.shape[0], 4, Y.shape[0]]}
    if question == "q4_initialize_parameters":
        return initialize_parameters(inputs["n_x"], inputs["n_h"], inputs["n_y"])
    if question == "q4_forward_propagation":
        return forward_propagation(X, params)[1]
    if question == "q4_compute_cost":
        return {"cost": compute_cost(inputs["A2"], Y)}
    if question == "q4_backward_propagation":
        return {"cache": forward_propagation(X, params)[1], **backward_propagation(params, X, Y)}
    if question == "q4_update_parameters":
        return update_parameters(params, inputs["grads"], inputs.get("learning_rate") or 1.2)
    if question == "q4_nn_model":
        start = initialize_parameters(X.shape[0], inputs["n_h"], Y.shape[0])
        final, _, table = train(start, X, Y, inputs["num_iterations"], record=True)
        table["sizes"] = [X.shape[0], 4, Y.shape[0]]
        return {**final, "trajectory": table}
    if question in ("q4_predict", "q4_torch_predict"):
        # predict: the notebook's own tanh network, so a forward pass written out in predict passes as one
        # that calls forward_propagation (whose stand-in replays these numbers)
        activation = _activation(inputs) if question == "q4_torch_predict" else "tanh"
        A2, cache = forward_propagation(X, params, activation)
        return {"labels": (A2 > 0.5).astype(float), "ignore": near_boundary(params, X, activation=activation),
                **({"cache": cache} if question == "q4_predict" else {})}
    if question == "q4_torch_mlp":
        A2, _ = forward_propagation(X, params)
        return {"A2": A2, "cost": compute_cost(A2, Y), **backward_propagation(params, X, Y)}
    if question == "q4_train_torch":
        final, costs = train(params, X, Y, inputs["num_iterations"], inputs["learning_rate"], _activation(inputs))
        return {"costs": costs, **final}
    raise KeyError(question)
