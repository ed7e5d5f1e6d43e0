"""A corpus of faulty Planar_MLP submissions, one common student mistake each.

Every mutant is an edit of ONE solution cell of the instructor notebook (a list of
exact text replacements), so the same mutant can be planted in a namespace for the
kernel-free checks (`conftest.solution_namespace`) and in a release notebook for real
nbgrader and Otter runs (`hwkit.demo.filled_release`). A mutant must cost the points of
its own question and nothing else; `hint` is a piece of the explanation the failing check
must give (None: any failure will do).

To add a mistake seen in real submissions: append a Mutant below (name, question, the
solution cell's grade_id, [(old, new), ...], a hint fragment). `pack()` spreads the corpus
over as few notebooks as possible, so the real-route test picks it up on its own.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "Planar_MLP.ipynb"

# The solution cell (grade_id) of each auto-graded question.
CELL = {
    "q4_layer_sizes": "layer_sizes", "q4_initialize_parameters": "initialize_parameters",
    "q4_forward_propagation": "forward_propagation", "q4_compute_cost": "compute_cost",
    "q4_backward_propagation": "backward_propagation", "q4_update_parameters": "update_parameters",
    "q4_nn_model": "nn_model", "q4_predict": "predict", "q4_torch_mlp": "TorchMLP",
    "q4_train_torch": "train_torch", "q4_torch_predict": "torch_predict",
}
QUESTIONS = list(CELL)


@dataclass(frozen=True)
class Mutant:
    name: str
    question: str
    edits: tuple[tuple[str, str], ...]
    hint: str | None = None
    kind: str = field(default="mistake")  # what the mutant stands for, for the report

    @property
    def cell(self) -> str:
        return CELL[self.question]

    def apply(self, text: str) -> str:
        for old, new in self.edits:
            if old not in text:
                raise ValueError(f"mutant {self.name}: {old!r} is not in cell {self.cell}")
            text = text.replace(old, new)
        return text


def M(name: str, question: str, edits: list[tuple[str, str]], hint: str | None = None) -> Mutant:
    return Mutant(name, question, tuple(edits), hint)


def _visible_labels() -> str:
    expected = json.loads((REPO / "source/hw1/hw1_checks/public_expected.json").read_text())
    return repr([[int(v) for v in row] for row in expected["q4_predict"][0]["labels"]])


# The parameters nn_model reaches on the notebook's flower data (n_h = 4, 10000 iterations), as a
# student would paste them, and the labels they give on that data: for the mutants that recognise the
# notebook's own data and answer from memory.
FLOWER_PARAMETERS = {
    "W1": [[0.144462, -9.685172], [-11.132548, 3.338882], [-11.465774, -13.418795], [9.255606, -10.197869]],
    "b1": [[0.015814], [-0.408657], [-0.064944], [0.017008]],
    "W2": [[-11.985539, 3.444167, 6.151344, 10.521193]], "b2": [[-0.066026]]}


def _flower_labels() -> str:
    import numpy as np

    from planar_utils import load_planar_dataset

    X, _ = load_planar_dataset()
    p = {k: np.array(v) for k, v in FLOWER_PARAMETERS.items()}
    A2 = 1 / (1 + np.exp(-(p["W2"] @ np.tanh(p["W1"] @ X + p["b1"]) + p["b2"])))
    return repr([[int(v) for v in (A2[0] > 0.5)]])


TANH_FORWARD = "return torch.sigmoid(self.output(torch.tanh(self.hidden(X))))"
PREDICT_LINE = "predictions = (A2 > 0.5).astype(int)"
TORCH_PREDICT_LINE = "predictions = (probabilities.numpy().T > 0.5).astype(int)"
BCE = "torch.nn.functional.binary_cross_entropy(model(inputs), targets)"

MUTANTS: list[Mutant] = [
    # q4_layer_sizes
    M("ls_hardcoded_visible", "q4_layer_sizes", [("n_x = X.shape[0]", "n_x = 5"), ("n_y = Y.shape[0]", "n_y = 2")],
      "do not type in numbers"),
    M("ls_columns_not_rows", "q4_layer_sizes", [("n_x = X.shape[0]", "n_x = X.shape[1]")], "numbers of rows"),
    M("ls_global_data", "q4_layer_sizes", [("def layer_sizes(X, Y):", "def layer_sizes(X_data, Y_data):")],
      "global data set"),
    M("ls_hidden_size", "q4_layer_sizes", [("n_h = 4", "n_h = n_x")], "n_h = 4"),
    # q4_initialize_parameters
    M("init_scale_0_1", "q4_initialize_parameters", [("* 0.01", "* 0.1")], "10 times"),
    M("init_no_scale", "q4_initialize_parameters", [("randn(n_h, n_x) * 0.01", "randn(n_h, n_x)"),
                                                    ("randn(n_y, n_h) * 0.01", "randn(n_y, n_h)")],
      "100 times too large"),
    M("init_W1_transposed", "q4_initialize_parameters", [("randn(n_h, n_x)", "randn(n_x, n_h)")], "transposed"),
    M("init_bias_random", "q4_initialize_parameters", [("b1 = np.zeros((n_h, 1))",
                                                        "b1 = np.random.randn(n_h, 1) * 0.01")],
      "should start at zeros"),
    M("init_bias_flat", "q4_initialize_parameters", [("b1 = np.zeros((n_h, 1))", "b1 = np.zeros(n_h)")],
      "column of shape"),
    M("init_uniform", "q4_initialize_parameters", [("np.random.randn", "np.random.rand")], "np.random.randn (a normal"),
    M("init_W2_first", "q4_initialize_parameters", [
        ("W1 = np.random.randn(n_h, n_x) * 0.01\n    b1 = np.zeros((n_h, 1))\n"
         "    W2 = np.random.randn(n_y, n_h) * 0.01",
         "W2 = np.random.randn(n_y, n_h) * 0.01\n    b1 = np.zeros((n_h, 1))\n"
         "    W1 = np.random.randn(n_h, n_x) * 0.01")],
      "draw W1 first"),
    M("init_n_y_ignored", "q4_initialize_parameters", [("randn(n_y, n_h)", "randn(1, n_h)")], "W2 has n_y rows"),
    # q4_forward_propagation
    M("fwd_sigmoid_hidden", "q4_forward_propagation", [("A1 = np.tanh(Z1)", "A1 = 1 / (1 + np.exp(-Z1))")],
      "A1 is sigmoid(Z1)"),
    M("fwd_tanh_output", "q4_forward_propagation", [("A2 = 1 / (1 + np.exp(-Z2))", "A2 = np.tanh(Z2)")],
      "A2 is tanh(Z2)"),
    M("fwd_logits", "q4_forward_propagation", [("A2 = 1 / (1 + np.exp(-Z2))", "A2 = Z2")], "logits"),
    M("fwd_sigmoid_sign", "q4_forward_propagation", [("np.exp(-Z2)", "np.exp(Z2)")], "with a minus sign"),
    M("fwd_no_bias", "q4_forward_propagation", [("Z1 = W1 @ X + b1", "Z1 = W1 @ X")], "missing the bias"),
    M("fwd_bias_transposed", "q4_forward_propagation", [("Z1 = W1 @ X + b1", "Z1 = W1 @ X + b1.T")], "broadcast"),
    M("fwd_Z2_transposed", "q4_forward_propagation", [("Z2 = W2 @ A1 + b2", "Z2 = A1.T @ W2.T + b2.T")],
      "transposed"),
    M("fwd_Z2_from_Z1", "q4_forward_propagation", [("Z2 = W2 @ A1 + b2", "Z2 = W2 @ Z1 + b2")], "Z2 uses Z1"),
    M("cost_sum_not_mean", "q4_compute_cost", [("cost = -np.sum(logprobs) / m", "cost = -np.sum(logprobs)")],
      "m times too large"),
    M("cost_no_minus", "q4_compute_cost", [("cost = -np.sum(logprobs) / m", "cost = np.sum(logprobs) / m")],
      "minus sign"),
    M("cost_half", "q4_compute_cost", [(" + (1 - Y) * np.log(1 - A2)", "")], "only the Y * log(A2) term"),
    M("cost_swapped_logs", "q4_compute_cost", [("Y * np.log(A2) + (1 - Y) * np.log(1 - A2)",
                                                "Y * np.log(1 - A2) + (1 - Y) * np.log(A2)")], "swapped"),
    M("cost_mse", "q4_compute_cost", [("cost = -np.sum(logprobs) / m", "cost = np.mean((A2 - Y) ** 2)")],
      "mean squared error"),
    M("cost_divides_by_400", "q4_compute_cost", [("/ m", "/ 400")], "divided by 400"),
    M("cost_log10", "q4_compute_cost", [("np.log(", "np.log10(")], "natural logarithm"),
    # q4_backward_propagation
    M("bwd_forgot_average", "q4_backward_propagation", [("dW1 = dZ1 @ X.T / m", "dW1 = dZ1 @ X.T"),
                                                        ("dW2 = dZ2 @ A1.T / m", "dW2 = dZ2 @ A1.T")],
      "did you average over the batch"),
    M("bwd_double_average", "q4_backward_propagation", [("dW2 = dZ2 @ A1.T / m", "dW2 = dZ2 @ A1.T / m / m")],
      "times too small: divide by m once"),
    M("bwd_sigmoid_derivative", "q4_backward_propagation", [("(1 - A1 ** 2)", "A1 * (1 - A1)")],
      "sigmoid's derivative"),
    M("bwd_no_derivative", "q4_backward_propagation", [("dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)", "dZ1 = W2.T @ dZ2")],
      "misses the factor"),
    M("bwd_sign", "q4_backward_propagation", [("dZ2 = A2 - Y", "dZ2 = Y - A2")], "wrong sign"),
    M("bwd_db_no_keepdims", "q4_backward_propagation", [("db1 = np.sum(dZ1, axis=1, keepdims=True) / m",
                                                         "db1 = np.sum(dZ1, axis=1) / m")], "keepdims"),
    M("bwd_db_axis0", "q4_backward_propagation", [("np.sum(dZ1, axis=1, keepdims=True)",
                                                   "np.sum(dZ1, axis=0, keepdims=True)")],
      "axis=1"),
    M("bwd_dW1_transposed", "q4_backward_propagation", [("dW1 = dZ1 @ X.T / m", "dW1 = X @ dZ1.T / m")], "transposed"),
    # q4_update_parameters
    M("upd_hardcoded_rate", "q4_update_parameters", [("learning_rate * grads", "1.2 * grads")],
      "ignores its learning_rate"),
    M("upd_uphill", "q4_update_parameters", [("parameters[name] - learning_rate", "parameters[name] + learning_rate")],
      "uphill"),
    M("upd_biases_frozen", "q4_update_parameters", [('grads["d" + name]',
                                                     'grads["d" + name] if name[0] == "W" else parameters[name]')],
      "b1 was not updated"),
    M("upd_no_rate", "q4_update_parameters", [("learning_rate * grads", "grads")], "learning rate is missing"),
    # q4_nn_model
    M("nn_wrong_rate", "q4_nn_model", [("learning_rate=1.2)", "learning_rate=0.5)")], "learning_rate=1.2"),
    M("nn_update_discarded", "q4_nn_model", [("parameters = update_parameters(", "update_parameters(")],
      "returned the starting parameters"),
    M("nn_global_data", "q4_nn_model", [("def nn_model(X, Y, n_h,", "def nn_model(X_train, Y_train, n_h,")],
      "global data set"),
    M("nn_ignores_n_h", "q4_nn_model", [("initialize_parameters(n_x, n_h, n_y)", "initialize_parameters(n_x, 4, n_y)")],
      "Use the n_h"),
    M("nn_one_iteration_short", "q4_nn_model", [("range(num_iterations)", "range(num_iterations - 1)")],
      "after 9 of 10 iterations"),
    M("nn_flower_memorised", "q4_nn_model", [("    np.random.seed(3)\n", f"""    if X.shape == (2, 400) and n_h == 4:
        return {{k: np.array(v) for k, v in {FLOWER_PARAMETERS!r}.items()}}
    np.random.seed(3)\n""")], "after 20 iterations"),
    M("nn_stale_gradients", "q4_nn_model", [("grads = backward_propagation(parameters, cache, X, Y)",
                                             "grads = grads if i else backward_propagation(parameters, cache, X, Y)")],
      "pass grads on unchanged"),
    # q4_predict
    M("pred_probabilities", "q4_predict", [(PREDICT_LINE, "predictions = A2")], "not probabilities"),
    M("pred_reversed", "q4_predict", [("A2 > 0.5", "A2 < 0.5")], "every label is flipped"),
    M("pred_flat", "q4_predict", [(".astype(int)", ".astype(int).ravel()")], "keep the row dimension"),
    M("pred_threshold", "q4_predict", [("A2 > 0.5", "A2 > 0.7")], "above 0.5"),
    M("pred_global_data", "q4_predict", [("def predict(parameters, X):", "def predict(parameters, X_new):")],
      "global data set"),
    M("pred_flower_memorised", "q4_predict", [("    A2, _ = forward_propagation(X, parameters)\n",
                                               f"""    if X.shape == (2, 400):
        return np.array({_flower_labels()})
    A2, _ = forward_propagation(X, parameters)\n""")], "labels are wrong"),
    M("pred_hardcoded_visible", "q4_predict", [(PREDICT_LINE, f"predictions = np.array({_visible_labels()})")]),
    # q4_torch_mlp
    M("tm_logits", "q4_torch_mlp", [(TANH_FORWARD, "return self.output(torch.tanh(self.hidden(X)))")], "logits"),
    M("tm_relu", "q4_torch_mlp", [("torch.tanh(", "torch.relu(")], "ReLU"),
    M("tm_swapped_sizes", "q4_torch_mlp", [("torch.nn.Linear(n_x, n_h)", "torch.nn.Linear(n_h, n_x)")],
      "nn.Linear(in_features, out_features)"),
    M("tm_detached", "q4_torch_mlp", [(TANH_FORWARD, TANH_FORWARD + ".detach()")], "does not track gradients"),
    M("tm_softmax", "q4_torch_mlp", [(TANH_FORWARD,
                                      "return torch.softmax(self.output(torch.tanh(self.hidden(X))), dim=1)")],
      "softmax"),
    M("tm_float_in_forward", "q4_torch_mlp", [(TANH_FORWARD, "X = X.float()\n        " + TANH_FORWARD)],
      "must not convert X"),
    M("tm_layer_renamed", "q4_torch_mlp", [("self.output", "self.out")], "layer `output`"),
    # q4_train_torch
    M("tt_no_zero_grad", "q4_train_torch", [("        optimizer.zero_grad()\n", "")], "zero_grad"),
    M("tt_hardcoded_rate", "q4_train_torch", [("lr=learning_rate", "lr=1.2")], "ignores its learning_rate"),
    M("tt_mse_loss", "q4_train_torch", [(BCE, "torch.nn.functional.mse_loss(model(inputs), targets)")],
      "mean squared error"),
    M("tt_no_backward", "q4_train_torch", [("        loss.backward()\n", "")], "never called loss.backward()"),
    M("tt_recreated_parameters", "q4_train_torch", [(
        "torch.optim.SGD(model.parameters(), lr=learning_rate)",
        "torch.optim.SGD([p.detach().clone().requires_grad_() for p in model.parameters()], lr=learning_rate)")],
      "did not change the model's weights"),
    M("tt_float32_inputs", "q4_train_torch", [("inputs = torch.as_tensor(X.T, dtype=dtype)",
                                               "inputs = torch.as_tensor(X.T, dtype=torch.float32)")],
      "not a fixed torch.float32"),
    M("tt_sum_loss", "q4_train_torch", [(BCE, BCE[:-1] + ", reduction='sum')")], "m times too large"),
    M("tt_cost_after_step", "q4_train_torch", [("costs.append(loss.item())", f"costs.append({BCE}.item())")],
      "recorded after each step"),
    # q4_torch_predict
    M("tp_tensor", "q4_torch_predict", [(TORCH_PREDICT_LINE, "predictions = (probabilities.T > 0.5).int()")],
      "NumPy array"),
    M("tp_no_transpose", "q4_torch_predict", [("probabilities.numpy().T", "probabilities.numpy()")], "transpose"),
    M("tp_probabilities", "q4_torch_predict", [(TORCH_PREDICT_LINE, "predictions = probabilities.numpy().T")],
      "not probabilities"),
    M("tp_reversed", "q4_torch_predict", [("> 0.5", "< 0.5")], "every label is flipped"),
    M("tp_flower_memorised", "q4_torch_predict", [("    with torch.no_grad():\n", f"""    if X.shape[1] == 400:
        return np.array({_flower_labels()})
    with torch.no_grad():\n""")], "labels are wrong"),
    M("tp_float32", "q4_torch_predict", [("torch.as_tensor(X.T, dtype=dtype)", "torch.tensor(X.T, dtype=torch.float)")],
      "not a fixed torch.float32"),
    M("tp_global_data", "q4_torch_predict", [("def torch_predict(model, X):", "def torch_predict(model, X_new):")],
      "global data set"),
]
# Mistakes whose message must name the cause (issue 24). They go through the real routes where the
# route notebooks still have the cell free (see ROUTE_BUDGET), and kernel-free always.
CAUSE_MUTANTS: list[Mutant] = [
    M("fwd_Z2_adds_b1", "q4_forward_propagation", [("Z2 = W2 @ A1 + b2", "Z2 = W2 @ A1 + b1")],
      "Z2 adds b1, the hidden layer's bias"),
    M("fwd_Z1_adds_b2", "q4_forward_propagation", [("Z1 = W1 @ X + b1", "Z1 = W1 @ X + b2")],
      "Z1 adds b2, the output layer's bias"),
    M("bwd_m_from_rows", "q4_backward_propagation", [("m = X.shape[1]", "m = X.shape[0]")],
      "m is the number of examples, X.shape[1]"),
    M("bwd_m_from_Y_rows", "q4_backward_propagation", [("m = X.shape[1]", "m = Y.shape[0]")],
      "the number of examples, X.shape[1]"),
    M("tt_row_labels_bce", "q4_train_torch", [("targets = torch.as_tensor(Y.T, dtype=dtype)",
                                               "targets = torch.as_tensor(Y, dtype=dtype)")],
      "use Y.T, as the given line does"),
    M("tt_row_labels_own_loss", "q4_train_torch", [
        ("targets = torch.as_tensor(Y.T, dtype=dtype)", "targets = torch.as_tensor(Y, dtype=dtype)"),
        (BCE, "-(targets * torch.log(model(inputs)) + (1 - targets) * torch.log(1 - model(inputs))).mean()")],
      "broadcasts them to an (m, m) matrix"),
    M("tt_adam", "q4_train_torch", [("torch.optim.SGD(", "torch.optim.Adam(")], "train_torch uses Adam"),
    M("tt_momentum", "q4_train_torch", [("lr=learning_rate)", "lr=learning_rate, momentum=0.9)")],
      "SGD with momentum"),
    M("tt_adam_default_rate", "q4_train_torch", [("torch.optim.SGD(model.parameters(), lr=learning_rate)",
                                                  "torch.optim.Adam(model.parameters())")],
      "The first cost is right"),
    M("pred_own_forward_sigmoid_hidden", "q4_predict", [
        ("A2, _ = forward_propagation(X, parameters)",
         "A1 = 1 / (1 + np.exp(-(parameters['W1'] @ X + parameters['b1'])))\n"
         "    A2 = 1 / (1 + np.exp(-(parameters['W2'] @ A1 + parameters['b2'])))")],
      "predict computes its own forward pass"),
]
MUTANTS += CAUSE_MUTANTS
BY_NAME = {m.name: m for m in MUTANTS}
assert len(BY_NAME) == len(MUTANTS), "mutant names must be unique"


# Correct solutions written differently, the ways students really write them (the classic
# template's lines and asserts, np.dot / np.multiply, np.float64 costs, bool / float / np.round
# labels, copies, nn.BCELoss, manual updates, prints and harmless warnings ...): each must keep
# full marks everywhere. A variant that loses a point is a grader bug: fix the check, not the variant.
# To add one: a name and its edits [(solution cell, old text, new text)]; `pack_variants()` spreads
# them over the real-route notebooks on its own.
VARIANTS: dict[str, list[tuple[str, str, str]]] = {  # name -> [(cell, old, new)]
    "matmul_and_dot": [
        ("forward_propagation", "Z1 = W1 @ X + b1", "Z1 = np.matmul(W1, X) + b1"),
        ("forward_propagation", "Z2 = W2 @ A1 + b2", "Z2 = np.dot(W2, A1) + b2"),
        ("backward_propagation", "dW2 = dZ2 @ A1.T / m", "dW2 = np.dot(dZ2, A1.T) / m"),
        ("backward_propagation", "dW1 = dZ1 @ X.T / m", "dW1 = np.matmul(dZ1, X.T) / m")],
    "loops_instead_of_vectors": [
        ("backward_propagation", "dW1 = dZ1 @ X.T / m",
         "dW1 = np.zeros((dZ1.shape[0], X.shape[0]))\n    for i in range(m):\n"
         "        dW1 += np.outer(dZ1[:, i], X[:, i])\n    dW1 = dW1 / m"),
        ("backward_propagation", "db1 = np.sum(dZ1, axis=1, keepdims=True) / m",
         "db1 = np.zeros((dZ1.shape[0], 1))\n    for i in range(m):\n        db1[:, 0] += dZ1[:, i] / m"),
        ("compute_cost", "cost = -np.sum(logprobs) / m",
         "cost = 0.0\n    for i in range(m):\n        cost -= logprobs[0, i] / m"),
        ("update_parameters", 'updated[name] = parameters[name] - learning_rate * grads["d" + name]',
         'updated[name] = np.array([[p - learning_rate * g for p, g in zip(row_p, row_g)] for row_p, row_g in '
         'zip(parameters[name], grads["d" + name])])')],
    "float32_and_mean": [
        ("forward_propagation", "A1 = np.tanh(Z1)", "A1 = np.tanh(Z1.astype(np.float32)).astype(np.float64)"),
        ("compute_cost", "cost = -np.sum(logprobs) / m", "cost = -np.mean(logprobs)"),
        ("layer_sizes", "n_x = X.shape[0]", "n_x = int(np.shape(X)[0])")],
    "round_and_in_place": [
        ("predict", PREDICT_LINE, "predictions = np.round(A2)"),
        ("update_parameters", 'updated[name] = parameters[name] - learning_rate * grads["d" + name]',
         'parameters[name] -= learning_rate * grads["d" + name]\n        updated[name] = parameters[name]'),
        ("torch_predict", TORCH_PREDICT_LINE, "predictions = probabilities.round().numpy().T")],
    "manual_update_and_bceloss": [
        ("train_torch", "optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)",
         "loss_fn = torch.nn.BCELoss()"),
        ("train_torch", "optimizer.zero_grad()", "model.zero_grad()"),
        ("train_torch", BCE, "loss_fn(model(inputs), targets)"),
        ("train_torch", "optimizer.step()",
         "with torch.no_grad():\n            for p in model.parameters():\n"
         "                p -= learning_rate * p.grad"),
        ("nn_model", "parameters = update_parameters(parameters, grads, learning_rate=1.2)",
         "parameters = update_parameters(parameters, grads)")],
    "sequential_inside_torch_mlp": [
        ("TorchMLP", "self.output = torch.nn.Linear(n_h, n_y)",
         "self.output = torch.nn.Linear(n_h, n_y)\n"
         "        self.net = torch.nn.Sequential(self.hidden, torch.nn.Tanh(), "
         "self.output, torch.nn.Sigmoid())"),
        ("TorchMLP", TANH_FORWARD, "return self.net(X)"),
        ("train_torch", BCE,
         "-(targets * torch.log(model(inputs)) + (1 - targets) * torch.log(1 - model(inputs))).mean()"),
        ("nn_model", "cost = compute_cost(A2, Y, parameters)", "cost = compute_cost(cache['A2'], Y, parameters)")],
    # --- the classic exercise's template, as students keep it --------------------------------
    "classic_template_asserts": [
        ("layer_sizes", "n_x = X.shape[0]", "n_x = X.shape[0] # size of input layer"),
        ("layer_sizes", "n_y = Y.shape[0]", "n_y = Y.shape[0] # size of output layer"),
        ("initialize_parameters", "b2 = np.zeros((n_y, 1))",
         "b2 = np.zeros((n_y, 1))\n    assert (W1.shape == (n_h, n_x))\n    assert (b1.shape == (n_h, 1))\n"
         "    assert (W2.shape == (n_y, n_h))\n    assert (b2.shape == (n_y, 1))"),
        ("forward_propagation", "A2 = 1 / (1 + np.exp(-Z2))",
         "A2 = 1 / (1 + np.exp(-Z2))\n    assert(A2.shape == (1, X.shape[1]))"),
        ("compute_cost", "cost = -np.sum(logprobs) / m",
         "cost = - np.sum(logprobs) / m\n"
         "    cost = float(np.squeeze(cost))  # makes sure cost is the dimension we expect.\n"
         "    assert(isinstance(cost, float))"),
        ("nn_model", "n_x, _, n_y = layer_sizes(X, Y)", "n_x = layer_sizes(X, Y)[0]\n    n_y = layer_sizes(X, Y)[2]"),
        ("predict", PREDICT_LINE, "predictions = (A2 > 0.5)")],  # a bool array, as the classic solution returns
    "classic_np_dot_multiply": [
        ("forward_propagation", "Z1 = W1 @ X + b1", "Z1 = np.dot(W1, X) + b1"),
        ("forward_propagation", "Z2 = W2 @ A1 + b2", "Z2 = np.dot(W2, A1) + b2"),
        ("compute_cost", "logprobs = Y * np.log(A2) + (1 - Y) * np.log(1 - A2)",
         "logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)"),
        ("backward_propagation", "dW2 = dZ2 @ A1.T / m", "dW2 = (1 / m) * np.dot(dZ2, A1.T)"),
        ("backward_propagation", "db2 = np.sum(dZ2, axis=1, keepdims=True) / m",
         "db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)"),
        ("backward_propagation", "dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)",
         "dZ1 = np.multiply(np.dot(W2.T, dZ2), 1 - np.power(A1, 2))"),
        ("backward_propagation", "dW1 = dZ1 @ X.T / m", "dW1 = (1 / m) * np.dot(dZ1, X.T)"),
        ("backward_propagation", "db1 = np.sum(dZ1, axis=1, keepdims=True) / m",
         "db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)"),
        ("nn_model", "parameters = update_parameters(parameters, grads, learning_rate=1.2)",
         "parameters = update_parameters(parameters, grads, 1.2)"),
        ("predict", PREDICT_LINE, "predictions = np.where(A2 > 0.5, 1, 0)")],
    "squeezed_float64_cost": [  # np.float64 is a float; no float(...) around it
        ("compute_cost", "cost = -np.sum(logprobs) / m",
         "cost = -(np.dot(Y, np.log(A2).T) + np.dot(1 - Y, np.log(1 - A2).T)) / m\n    cost = np.squeeze(cost).item()"),
        ("compute_cost", "return float(cost)", "return np.float64(cost)"),
        ("predict", PREDICT_LINE, "predictions = (A2 > 0.5).astype(float)")],
    "classic_update_deepcopy": [
        ("update_parameters", """    updated = {}
    for name in ("W1", "b1", "W2", "b2"):
        updated[name] = parameters[name] - learning_rate * grads["d" + name]""", """    import copy
    W1 = copy.deepcopy(parameters["W1"])
    b1 = copy.deepcopy(parameters["b1"])
    W2 = copy.deepcopy(parameters["W2"])
    b2 = copy.deepcopy(parameters["b2"])
    dW1, db1, dW2, db2 = grads["dW1"], grads["db1"], grads["dW2"], grads["db2"]
    W1 = W1 - learning_rate * dW1
    b1 = b1 - learning_rate * db1
    W2 = W2 - learning_rate * dW2
    b2 = b2 - learning_rate * db2
    updated = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}"""),
        ("backward_propagation", "dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)",
         "dZ1 = (W2.T @ dZ2) * (1 - np.tanh(cache['Z1']) ** 2)"),
        ("predict", PREDICT_LINE, "predictions = np.array([[1 if a > 0.5 else 0 for a in A2[0]]])")],
    "in_place_on_copies": [
        ("update_parameters", 'updated[name] = parameters[name] - learning_rate * grads["d" + name]',
         'updated[name] = parameters[name].copy()\n        updated[name] -= learning_rate * grads["d" + name]'),
        ("initialize_parameters", "W1 = np.random.randn(n_h, n_x) * 0.01",
         "W1 = np.random.normal(0, 0.01, (n_h, n_x))"),
        ("initialize_parameters", "b1 = np.zeros((n_h, 1))", "b1 = np.zeros(shape=(n_h, 1))"),
        ("layer_sizes", "n_x = X.shape[0]", "n_x = len(X)"),
        ("layer_sizes", "n_y = Y.shape[0]", "n_y = len(Y)")],
    "nn_model_classic_loop": [
        ("nn_model", """    for i in range(num_iterations):""", """    W1 = parameters["W1"]
    b1 = parameters["b1"]
    W2 = parameters["W2"]
    b2 = parameters["b2"]
    costs = []
    for i in range(0, num_iterations):"""),
        ("nn_model", "cost = compute_cost(A2, Y, parameters)",
         "cost = compute_cost(A2, Y, parameters)\n        costs.append(cost)"),
        ("forward_propagation", "A1 = np.tanh(Z1)", "A1 = (np.exp(Z1) - np.exp(-Z1)) / (np.exp(Z1) + np.exp(-Z1))")],
    "cost_only_when_printed": [
        ("nn_model", "cost = compute_cost(A2, Y, parameters)",
         "if print_cost:\n            cost = compute_cost(A2, Y, parameters)"),
        ("nn_model", "parameters = update_parameters(parameters, grads, learning_rate=1.2)",
         "learning_rate = 1.2\n"
         "        parameters = update_parameters(parameters, grads, learning_rate=learning_rate)")],
    # --- prints and harmless warnings of the student's own code ----------------------------------
    "prints_and_warnings": [
        ("layer_sizes", "n_h = 4", "n_h = 4\n    print('The size of the input layer is: n_x = ' + str(n_x))"),
        ("forward_propagation", "def forward_propagation(X, parameters):",
         "import warnings\n\ndef my_sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n\n"
         "print(my_sigmoid(np.array([-1000.0, 0.0, 1000.0])))  # RuntimeWarning: overflow in exp\n\n"
         "def forward_propagation(X, parameters):"),
        ("forward_propagation", "A2 = 1 / (1 + np.exp(-Z2))",
         "A2 = my_sigmoid(Z2)\n    warnings.warn('checking my forward pass')\n    print('A2 shape', A2.shape)"),
        ("compute_cost", "m = Y.shape[1]", "m = Y.shape[1]\n    print(np.exp(np.array([800.0])))  # overflow warning"),
        ("backward_propagation", "dZ2 = A2 - Y",
         "dZ2 = A2 - Y\n    print('dZ2', dZ2.shape, file=__import__('sys').stderr)"),
        ("nn_model", "if print_cost and i % 1000 == 0:", "if i % 1000 == 0 and print_cost:"),
        ("train_torch", "costs.append(loss.item())",
         "costs.append(loss.item())\n        if i == 0:\n            import warnings\n"
         "            warnings.warn('first step', RuntimeWarning)"),
        ("torch_predict", "with torch.no_grad():", "print('predicting', X.shape)\n    with torch.no_grad():")],
    # --- PyTorch, written the usual ways -----------------------------------------------------------
    "torch_modules_and_optim": [
        ("TorchMLP", "class TorchMLP(torch.nn.Module):",
         "import torch.nn as nn\nimport torch.nn.functional as F\n\n\nclass TorchMLP(nn.Module):"),
        ("TorchMLP", "super().__init__()", "super(TorchMLP, self).__init__()"),
        ("TorchMLP", "self.output = torch.nn.Linear(n_h, n_y)",
         "self.output = nn.Linear(n_h, n_y)\n        self.tanh = nn.Tanh()\n        self.sigmoid = nn.Sigmoid()"),
        ("TorchMLP", TANH_FORWARD,
         "x = self.hidden(X)\n        x = self.tanh(x)\n        x = self.output(x)\n        return self.sigmoid(x)"),
        ("train_torch", "optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)",
         "import torch.optim as optim\n    criterion = torch.nn.BCELoss()\n"
         "    optimizer = optim.SGD(model.parameters(), lr=learning_rate)\n    model.train()"),
        ("train_torch", BCE, "criterion(model(inputs), targets)"),
        ("torch_predict", "with torch.no_grad():", "model.eval()\n    with torch.no_grad():"),
        ("torch_predict", TORCH_PREDICT_LINE, "predictions = (probabilities > 0.5).float().numpy().T")],
    "torch_tensor_and_manual_step": [
        ("train_torch", "inputs = torch.as_tensor(X.T, dtype=dtype)", "inputs = torch.tensor(X.T, dtype=dtype)"),
        ("train_torch", "targets = torch.as_tensor(Y.T, dtype=dtype)", "targets = torch.from_numpy(Y).to(dtype).T"),
        ("train_torch", "optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)", ""),
        ("train_torch", "optimizer.zero_grad()", ""),
        ("train_torch", BCE, "torch.nn.functional.binary_cross_entropy(model(inputs).squeeze(), targets.squeeze())"),
        ("train_torch", "optimizer.step()",
         "with torch.no_grad():\n            for param in model.parameters():\n"
         "                param -= learning_rate * param.grad\n"
         "                param.grad.zero_()"),
        ("train_torch", "costs.append(loss.item())", "costs.append(float(loss))"),
        ("TorchMLP", TANH_FORWARD,
         "h = torch.nn.functional.tanh(self.hidden(X))\n        return torch.nn.functional.sigmoid(self.output(h))"),
        ("torch_predict", "probabilities = model(torch.as_tensor(X.T, dtype=dtype))",
         "probabilities = model(torch.tensor(X.T, dtype=dtype))"),
        ("torch_predict", TORCH_PREDICT_LINE,
         "predictions = (probabilities.detach().cpu().numpy() > 0.5).reshape(1, -1)")],
    "torch_from_numpy_and_round": [
        ("train_torch", "inputs = torch.as_tensor(X.T, dtype=dtype)",
         "inputs = torch.from_numpy(X.T.copy()).type(dtype)"),
        ("train_torch", "targets = torch.as_tensor(Y.T, dtype=dtype)",
         "targets = torch.as_tensor(Y.reshape(-1, 1), dtype=dtype)"),
        ("train_torch", "        optimizer.zero_grad()\n", ""),
        ("train_torch", "optimizer.step()", "optimizer.step()\n        optimizer.zero_grad()"),
        ("train_torch", "costs.append(loss.item())", "costs.append(loss.detach().numpy())"),
        ("TorchMLP", "self.output = torch.nn.Linear(n_h, n_y)",
         "self.output = torch.nn.Linear(n_h, n_y)\n        torch.nn.init.normal_(self.hidden.weight, std=0.01)\n"
         "        torch.nn.init.zeros_(self.hidden.bias)"),
        ("torch_predict", "probabilities = model(torch.as_tensor(X.T, dtype=dtype))",
         "probabilities = model(torch.from_numpy(X.T).to(dtype))"),
        ("torch_predict", TORCH_PREDICT_LINE, "predictions = torch.round(probabilities).numpy().T.astype(np.int64)")],
    "torch_no_grad_decorator": [
        ("torch_predict", "def torch_predict(model, X):", "@torch.no_grad()\ndef torch_predict(model, X):"),
        ("torch_predict", "with torch.no_grad():\n        probabilities", "if True:\n        probabilities"),
        ("torch_predict", TORCH_PREDICT_LINE, "predictions = np.array(probabilities.numpy().T > 0.5, dtype=int)"),
        ("train_torch", "for i in range(num_iterations):", "for epoch in range(num_iterations):\n        i = epoch"),
        ("train_torch", "loss = " + BCE,
         "output = model(inputs)\n"
         "        loss = torch.nn.functional.binary_cross_entropy(output, targets, reduction='mean')")],
    # --- issue 24 (HELD_OUT_STYLES): subclasses of dict/tuple, lists for tuples, a forward pass written out
    # in predict, float32 where it is harmless, comprehensions, keyword calls, tensors for costs -------
    "ordered_dict_and_namedtuple": [
        ("layer_sizes", "def layer_sizes(X, Y):",
         "from collections import namedtuple\nSizes = namedtuple('Sizes', ['n_x', 'n_h', 'n_y'])\n\n\n"
         "def layer_sizes(X, Y):"),
        ("layer_sizes", "return (n_x, n_h, n_y)", "return Sizes(n_x, n_h, n_y)"),
        ("initialize_parameters", 'return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}',
         "from collections import OrderedDict\n"
         "    return OrderedDict([('W1', W1), ('b1', b1), ('W2', W2), ('b2', b2)])"),
        ("forward_propagation", 'cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}\n    return A2, cache',
         "from collections import OrderedDict, namedtuple\n"
         "    cache = OrderedDict(Z1=Z1, A1=A1, Z2=Z2, A2=A2)\n"
         "    return namedtuple('Forward', 'A2 cache')(A2, cache)"),
        ("backward_propagation", 'return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}',
         "import collections\n    return collections.OrderedDict(dW1=dW1, db1=db1, dW2=dW2, db2=db2)"),
        ("update_parameters", "updated = {}", "from collections import OrderedDict\n    updated = OrderedDict()")],
    "lists_for_tuples": [
        ("layer_sizes", "return (n_x, n_h, n_y)", "return [n_x, n_h, n_y]"),
        ("forward_propagation", "return A2, cache", "return [A2, cache]"),
        ("train_torch", "return costs", "return np.array(costs)  # a 1-D array of the costs")],
    "predict_forward_written_out": [
        ("predict", "A2, _ = forward_propagation(X, parameters)",
         "W1, b1, W2, b2 = parameters['W1'], parameters['b1'], parameters['W2'], parameters['b2']\n"
         "    A1 = np.tanh(np.dot(W1, X) + b1)\n"
         "    A2 = 1.0 / (1.0 + np.exp(-(np.dot(W2, A1) + b2)))")],
    "predict_loop_float32_labels": [
        ("predict", PREDICT_LINE,
         "predictions = np.zeros((1, X.shape[1]), dtype=np.float32)\n    for i in range(A2.shape[1]):\n"
         "        predictions[0, i] = 1 if A2[0, i] > 0.5 else 0"),
        ("torch_predict", TORCH_PREDICT_LINE,
         "predictions = torch.where(probabilities > 0.5, 1, 0).numpy().reshape(1, -1)")],
    "float32_weights_and_helpers": [
        ("initialize_parameters", "W2 = np.random.randn(n_y, n_h) * 0.01",
         "W2 = (np.random.randn(n_y, n_h) * 0.01).astype(np.float32)"),
        ("initialize_parameters", "b1 = np.zeros((n_h, 1))", "b1 = np.zeros((n_h, 1), dtype=np.float32)"),
        ("forward_propagation", "def forward_propagation(X, parameters):",
         "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n\n\ndef forward_propagation(X, parameters):"),
        ("forward_propagation", "A2 = 1 / (1 + np.exp(-Z2))", "A2 = sigmoid(Z2)"),
        ("backward_propagation", "def backward_propagation(parameters, cache, X, Y):",
         "def tanh_prime_from_activation(a):\n    return 1 - np.power(a, 2)\n\n\n"
         "def backward_propagation(parameters, cache, X, Y):"),
        ("backward_propagation", "(1 - A1 ** 2)", "tanh_prime_from_activation(A1)"),
        ("update_parameters", """    updated = {}
    for name in ("W1", "b1", "W2", "b2"):
        updated[name] = parameters[name] - learning_rate * grads["d" + name]""",
         "    updated = {key: value - learning_rate * grads['d' + key] for key, value in parameters.items()}")],
    "keyword_calls_and_shapes": [
        ("nn_model", "n_x, _, n_y = layer_sizes(X, Y)", "n_x, n_y = X.shape[0], Y.shape[0]"),
        ("nn_model", "A2, cache = forward_propagation(X, parameters)",
         "A2, cache = forward_propagation(X=X, parameters=parameters)"),
        ("nn_model", "grads = backward_propagation(parameters, cache, X, Y)",
         "grads = backward_propagation(parameters=parameters, cache=cache, X=X, Y=Y)"),
        ("nn_model", "parameters = update_parameters(parameters, grads, learning_rate=1.2)",
         "parameters = update_parameters(parameters=parameters, grads=grads, learning_rate=1.2)"),
        ("predict", "A2, _ = forward_propagation(X, parameters)",
         "A2 = forward_propagation(parameters=parameters, X=X)[0]"),
        ("layer_sizes", "n_x = X.shape[0]\n    n_h = 4\n    n_y = Y.shape[0]",
         "n_x, n_y = X.shape[0], Y.shape[0]\n    n_h = 4")],
    "cost_and_backward_styles": [
        ("compute_cost", "cost = -np.sum(logprobs) / m",
         "cost = -1 / m * np.sum(logprobs, axis=1, keepdims=True)\n    cost = np.squeeze(cost)"),
        ("backward_propagation", "dZ2 = A2 - Y", "dZ2 = A2.copy()\n    dZ2 -= Y"),
        ("backward_propagation", "db2 = np.sum(dZ2, axis=1, keepdims=True) / m",
         "db2 = dZ2.mean(axis=1, keepdims=True)"),
        ("backward_propagation", "dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)",
         "dZ1 = W2.T.dot(dZ2) * (1 - np.square(A1))"),
        ("backward_propagation", "dW1 = dZ1 @ X.T / m", "dW1 = np.einsum('im,jm->ij', dZ1, X) / m"),
        ("backward_propagation", "db1 = np.sum(dZ1, axis=1, keepdims=True) / m",
         "db1 = np.mean(dZ1, axis=1).reshape(-1, 1)"),
        ("update_parameters", """    updated = {}
    for name in ("W1", "b1", "W2", "b2"):
        updated[name] = parameters[name] - learning_rate * grads["d" + name]""",
         "    for key in parameters:\n        parameters[key] = parameters[key] - learning_rate * grads['d' + key]\n"
         "    updated = parameters")],
    "torch_tensors_for_costs_no_grad_free": [
        ("TorchMLP", "self.hidden = torch.nn.Linear(n_x, n_h)",
         "self.n_x, self.n_h, self.n_y = n_x, n_h, n_y\n"
         "        self.hidden = torch.nn.Linear(n_x, n_h, bias=True, dtype=torch.float32)"),
        ("TorchMLP", "super().__init__()", "torch.nn.Module.__init__(self)"),
        ("TorchMLP", TANH_FORWARD,
         "out = self.hidden(X)\n        out = out.tanh()\n        return self.output(out).sigmoid()"),
        ("train_torch", "optimizer.zero_grad()", "optimizer.zero_grad(set_to_none=True)"),
        ("train_torch", "costs.append(loss.item())", "costs.append(loss.detach())  # 0-d tensors"),
        ("torch_predict", "with torch.no_grad():\n        probabilities = model(torch.as_tensor(X.T, dtype=dtype))",
         "probabilities = model(torch.as_tensor(X.T, dtype=dtype)).detach()"),
        ("torch_predict", TORCH_PREDICT_LINE, "predictions = (probabilities >= 0.5).T.numpy().astype(np.float32)")],
    "torch_data_update_and_warning": [
        ("train_torch", "inputs = torch.as_tensor(X.T, dtype=dtype)",
         "inputs = torch.tensor(X, dtype=dtype).T\n    inputs = torch.tensor(inputs)  # UserWarning: copy-construct"),
        ("train_torch", "optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)",
         "loss_fn = torch.nn.BCELoss(reduction='mean')"),
        ("train_torch", "optimizer.zero_grad()", "pass"),
        ("train_torch", "loss = " + BCE, "predictions = model(inputs)\n        loss = loss_fn(predictions, targets)"),
        ("train_torch", "optimizer.step()",
         "for p in model.parameters():\n            p.data -= learning_rate * p.grad.data\n"
         "            p.grad.data.zero_()"),
        ("train_torch", "costs.append(loss.item())", "cost = loss.item()\n        costs.append(cost)"),
        ("torch_predict", "probabilities.numpy().T", "probabilities.T.numpy()")],
    "numpy_ints_and_exp_forms": [
        ("layer_sizes", "return (n_x, n_h, n_y)", "return (np.int64(n_x), n_h, int(n_y))"),
        ("initialize_parameters", "W1 = np.random.randn(n_h, n_x) * 0.01", "W1 = np.random.randn(n_h, n_x) / 100"),
        ("forward_propagation", "A2 = 1 / (1 + np.exp(-Z2))", "A2 = np.exp(Z2) / (1 + np.exp(Z2))"),
        ("compute_cost", "cost = -np.sum(logprobs) / m",
         "cost = -np.trace(Y @ np.log(A2).T + (1 - Y) @ np.log(1 - A2).T) / m"),
        ("predict", PREDICT_LINE, "predictions = (A2 >= 0.5) * 1"),
        ("torch_predict", TORCH_PREDICT_LINE,
         "predictions = np.where(probabilities.numpy() > 0.5, 1, 0).reshape(1, -1)")],
    "optional_args_left_out": [
        ("nn_model", "cost = compute_cost(A2, Y, parameters)", "cost = compute_cost(A2, Y)"),
        ("nn_model", "n_x, _, n_y = layer_sizes(X, Y)", "n_x, n_h_unused, n_y = layer_sizes(X, Y)"),
        ("backward_propagation", "dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)",
         "dZ1 = np.dot(W2.T, dZ2) * (1 - np.tanh(cache['Z1']) * np.tanh(cache['Z1']))"),
        ("update_parameters", 'updated[name] = parameters[name] - learning_rate * grads["d" + name]',
         'updated[name] = np.subtract(parameters[name], np.multiply(learning_rate, grads["d" + name]))'),
        ("train_torch", "optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)",
         "optimizer = torch.optim.SGD(params=model.parameters(), lr=learning_rate, momentum=0.0)\n"
         "    model = model.double()"),
        ("train_torch", "costs.append(loss.item())", "costs.append(loss.data.numpy())"),
        ("TorchMLP", "self.output = torch.nn.Linear(n_h, n_y)",
         "self.output = torch.nn.Linear(n_h, n_y).double()\n        self.dropout = torch.nn.Dropout(0.0)"),
        ("TorchMLP", TANH_FORWARD, "return torch.sigmoid(self.output(self.dropout(torch.tanh(self.hidden(X)))))"),
        ("torch_predict", "probabilities = model(torch.as_tensor(X.T, dtype=dtype))",
         "probabilities = model(torch.from_numpy(X.T))"),
        ("predict", PREDICT_LINE, "predictions = A2.round().astype(np.uint8)")],
    "tanh_sigmoid_and_cache_reads": [
        ("forward_propagation", "Z1 = W1 @ X + b1", "Z1 = W1.dot(X) + b1"),
        ("forward_propagation", "A2 = 1 / (1 + np.exp(-Z2))", "A2 = 0.5 * (1 + np.tanh(Z2 / 2))  # the sigmoid"),
        ("compute_cost", "return float(cost)", "return cost.item() if hasattr(cost, 'item') else cost"),
        ("train_torch", BCE, "torch.nn.BCELoss()(model(inputs).view(-1), targets.view(-1))"),
        ("train_torch", "loss.backward()", "loss.backward(retain_graph=False)"),
        ("torch_predict", TORCH_PREDICT_LINE, "predictions = (probabilities.numpy() > 0.5).astype(int).T.copy()"),
        ("TorchMLP", TANH_FORWARD, "Z1 = X @ self.hidden.weight.T + self.hidden.bias\n"
                                   "        return torch.sigmoid(self.output(torch.tanh(Z1)))"),
        ("predict", "A2, _ = forward_propagation(X, parameters)",
         "A2 = forward_propagation(X, parameters)[1]['A2']")],
    "set_to_none_and_grad_tensors": [
        ("train_torch", "for i in range(num_iterations):", "model.train()\n    for i in range(num_iterations):"),
        ("train_torch", "optimizer.zero_grad()", "model.zero_grad(set_to_none=True)"),
        ("train_torch", "costs.append(loss.item())", "costs.append(loss)  # tensors that track gradients"),
        ("train_torch", "return costs", "return [c.item() for c in costs]"),
        ("TorchMLP", TANH_FORWARD,
         "return torch.nn.Sequential(self.hidden, torch.nn.Tanh(), self.output, torch.nn.Sigmoid())(X)"),
        ("nn_model", "for i in range(num_iterations):", "for i in range(0, num_iterations, 1):"),
        ("initialize_parameters", "b2 = np.zeros((n_y, 1))", "b2 = np.zeros((n_y, 1)) + 0.0"),
        ("backward_propagation", "db1 = np.sum(dZ1, axis=1, keepdims=True) / m",
         "db1 = dZ1.sum(axis=-1, keepdims=True) / m"),
        ("compute_cost", "cost = -np.sum(logprobs) / m", "cost = -np.nansum(logprobs) / m")],
    "fixed_float64_and_inference_mode": [
        ("train_torch", "inputs = torch.as_tensor(X.T, dtype=dtype)",
         "inputs = torch.tensor(X.T, dtype=torch.float64)"),
        ("train_torch", "targets = torch.as_tensor(Y.T, dtype=dtype)",
         "targets = torch.tensor(Y, dtype=torch.float64).reshape(-1, 1)"),
        ("train_torch", "optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)",
         "optimizer = torch.optim.SGD(model.parameters(), learning_rate)"),
        ("torch_predict", "with torch.no_grad():", "model.eval()\n    with torch.inference_mode():"),
        ("torch_predict", TORCH_PREDICT_LINE, "predictions = (probabilities > 0.5).numpy().T"),
        ("forward_propagation", "A1 = np.tanh(Z1)", "A1 = np.tanh(Z1, out=np.empty_like(Z1))")],
    "sequential_aliases_and_sum_over_m": [
        ("TorchMLP", "self.hidden = torch.nn.Linear(n_x, n_h)\n        self.output = torch.nn.Linear(n_h, n_y)",
         "self.model = torch.nn.Sequential(torch.nn.Linear(n_x, n_h), torch.nn.Tanh(), torch.nn.Linear(n_h, n_y),\n"
         "                                         torch.nn.Sigmoid())\n"
         "        self.hidden = self.model[0]\n        self.output = self.model[2]"),
        ("TorchMLP", TANH_FORWARD, "return self.model(X)"),
        ("train_torch", "    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)\n", ""),
        ("train_torch", "optimizer.zero_grad()",
         "optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)  # stateless: fine in the loop\n"
         "        optimizer.zero_grad()"),
        ("train_torch", BCE,
         "torch.nn.functional.binary_cross_entropy(model(inputs), targets, reduction='sum') / inputs.shape[0]"),
        ("compute_cost", "logprobs = Y * np.log(A2) + (1 - Y) * np.log(1 - A2)",
         "eps = 1e-8\n    logprobs = Y * np.log(A2 + eps) + (1 - Y) * np.log(1 - A2 + eps)"),
        ("predict", PREDICT_LINE, "predictions = np.array([[int(a > 0.5) for a in row] for row in A2])")],
}

HELD_OUT_STYLES = ("ordered_dict_and_namedtuple", "lists_for_tuples", "predict_forward_written_out",
                   "predict_loop_float32_labels", "float32_weights_and_helpers", "keyword_calls_and_shapes",
                   "cost_and_backward_styles", "torch_tensors_for_costs_no_grad_free", "torch_data_update_and_warning",
                   "numpy_ints_and_exp_forms", "optional_args_left_out", "tanh_sigmoid_and_cache_reads",
                   "set_to_none_and_grad_tensors", "fixed_float64_and_inference_mode",
                   "sequential_aliases_and_sum_over_m")


def _variant_cells(name: str) -> set[str]:
    return {cell for cell, _, _ in VARIANTS[name]}


# Planar_MLP notebooks the shared class grades (its run time): the mutant packs fill them first, then
# the correct variants the cells left free; a variant that no longer fits is checked kernel-free only
# (`test_correct_variants_keep_full_marks`), not through the real routes.
ROUTE_BUDGET = 15


def route_notebooks(mutant_packs: list[list[Mutant]], later: list[Mutant] = ()) -> list[tuple[list[Mutant], list[str]]]:
    """The notebooks the real routes grade: the mutant packs, with the correct variants written into
    the solution cells they leave alone (questions are judged on their own cells, so they do not
    interact), then notebooks of variants only, up to the budget; then the `later` mutants in the
    cells still free. Each is (mutants, variant names)."""
    assert len(mutant_packs) <= ROUTE_BUDGET, "more mutant packs than the route budget"
    notebooks = [(list(mutants), []) for mutants in mutant_packs]
    used = [{m.cell for m in mutants} for mutants in mutant_packs]
    tier = {name: name in HELD_OUT_STYLES for name in VARIANTS}  # the older corpus first, as it always went
    for name in sorted(VARIANTS, key=lambda n: (tier[n], -len(_variant_cells(n)))):  # first fit, largest first
        cells = _variant_cells(name)
        for (_, variants), taken in zip(notebooks, used):
            if not cells & taken:
                variants.append(name)
                taken |= cells
                break
        else:
            if len(notebooks) < ROUTE_BUDGET:
                notebooks.append(([], [name]))
                used.append(set(cells))
    for mutant in later:
        for (mutants, _), taken in zip(notebooks, used):
            if mutant.cell not in taken:
                mutants.append(mutant)
                taken.add(mutant.cell)
                break
    return notebooks


def mutant_edit(mutants: list[Mutant], variants: tuple[str, ...] = ()) -> Callable[[str, str], str]:
    """An `edit(grade_id, source)` planting every mutant in `mutants` (at most one per cell), and
    writing the correct `variants` into other cells."""
    by_cell: dict[str, Mutant] = {}
    for mutant in mutants:
        assert mutant.cell not in by_cell, f"{mutant.name} and {by_cell[mutant.cell].name} edit one cell"
        by_cell[mutant.cell] = mutant

    written = variant_edit(*variants)

    def edit(grade_id: str, text: str) -> str:
        if grade_id in by_cell:
            assert not any(cell == grade_id for name in variants for cell, _, _ in VARIANTS[name]), grade_id
            return by_cell[grade_id].apply(text)
        return written(grade_id, text)
    return edit


def variant_edit(*names: str) -> Callable[[str, str], str]:
    """An `edit(grade_id, source)` writing the given variants (which edit different cells)."""
    def edit(grade_id: str, text: str) -> str:
        for name in names:
            for cell, old, new in VARIANTS[name]:
                if cell == grade_id:
                    assert old in text, (name, cell, old)
                    text = text.replace(old, new)
        return text
    return edit


def pack(mutants: list[Mutant] = MUTANTS) -> list[list[Mutant]]:
    """The corpus spread over as few notebooks as possible, one mutant per question in each
    (questions are graded independently, so the mutants in one notebook do not interact)."""
    notebooks: list[list[Mutant]] = []
    for mutant in mutants:
        for notebook in notebooks:
            if all(other.question != mutant.question for other in notebook):
                notebook.append(mutant)
                break
        else:
            notebooks.append([mutant])
    return notebooks


# --- the real-route corpus: the packs as release notebooks, graded by nbgrader and Otter ---------

# the mutant packs, with correct variants in their other cells, then the cause mutants where cells are free
ROUTE_NOTEBOOKS = route_notebooks(pack([m for m in MUTANTS if m not in CAUSE_MUTANTS]), CAUSE_MUTANTS)
ROUTED_MUTANTS = [m for mutants, _ in ROUTE_NOTEBOOKS for m in mutants]
ROUTED_VARIANTS = [name for _, variants in ROUTE_NOTEBOOKS for name in variants]
# Ungraded demo cells (training on the flower data, the hidden-size sweep, plots) are left out of these
# notebooks, as a student may do: they cost most of the run time and no points (the class corpus's
# reference hands in complete notebooks).
DEMO_CELLS = {"train_numpy", "sweep", "train_torch_demo"}


def route_notebook(course, edit: Callable[[str, str], str]):
    """The release notebook with the instructor's answers, `edit`ed, without the demo cells."""
    from hwkit.demo import filled_release

    nb = filled_release(course, NOTEBOOK, edit)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in DEMO_CELLS]
    return nb


def _tamper_edit(cell: str, text: str) -> str:
    """Notebook-level tampering, each with a wrong answer it tries to hide (one per question)."""
    if cell == "layer_sizes":  # redefine the check helper, in the namespace and in the module
        return text.replace("n_h = 4", "n_h = 7") + (
            '\nimport hw1_checks\ncheck = lambda *args, **kwargs: "all tests passed"\nhw1_checks.check = check\n')
    if cell == "forward_propagation":  # make NumPy's comparisons always succeed
        return text.replace("Z1 = W1 @ X + b1", "Z1 = W1 @ X") + (
            "\nnp.allclose = np.isclose = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None\n")
    if cell == "compute_cost":  # end the test from inside a tested function
        return text.replace("m = Y.shape[1]", "import sys\n    sys.exit(0)")
    if cell == "backward_propagation":  # patch the comparison helpers of the imported checks
        return text.replace("dZ2 = A2 - Y", "dZ2 = Y - A2") + (
            "\nimport hw1_checks._core as _core\n_core.max_error = lambda *a, **k: 0.0\n"
            "_core.assert_close = lambda *a, **k: None\n")
    if cell == "torch_predict":  # make the label check see only 0 and 1
        return text.replace("predictions = (probabilities.numpy().T > 0.5).astype(int)",
                            "predictions = probabilities.numpy().T") + (
            "\nnp.unique = lambda *a, **k: np.array([0.0, 1.0])\n")
    if cell == "predict":
        return text.replace("A2 > 0.5", "A2 < 0.5")
    return text


TAMPERED = {"q4_layer_sizes", "q4_forward_propagation", "q4_compute_cost", "q4_backward_propagation",
            "q4_torch_predict", "q4_predict"}


def tampered_notebook(course):
    """Wrong answers hidden by tampering with the checks, and a test cell edited to claim success
    (nbgrader restores it from the gradebook)."""
    nb = route_notebook(course, _tamper_edit)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q4_predict":
            cell.source = 'print("q4_predict: all tests passed")'
    return nb


def route_student(i: int) -> str:
    """Student i of the route corpora hands in pack i of every notebook (Planar_MLP and Problems 1-3)."""
    return f"mutants_{i:02d}"


# student -> (Planar_MLP notebook maker, questions expected to score 0)
ROUTE_CORPUS: dict[str, tuple[Callable, set[str]]] = {
    **{route_student(i): (lambda c, ms=tuple(mutants), vs=tuple(variants): route_notebook(c, mutant_edit(list(ms), vs)),
                          {m.question for m in mutants})
       for i, (mutants, variants) in enumerate(ROUTE_NOTEBOOKS)},
    "tampering": (tampered_notebook, TAMPERED),
}
