"""A corpus of faulty Problem 1-3 submissions, one common student mistake each.

The wrong formulas are those of tests/test_problem{1,2,3}.py (missing transpose, missing 1/N,
sign errors, sigmoid' where ReLU' belongs, wrong unit counts, ...), written here as edits of ONE
solution cell of the instructor notebook, so the same mutant can be planted in a namespace for
the kernel-free checks (`conftest.solution_namespace`) and in a release notebook for real
nbgrader and Otter runs (`hwkit.demo.filled_release`). A mutant must cost the points of its own
question and nothing else; `hint` is a piece of the explanation the failing check must give
(None: any failure will do).

An edit is (old, new): an exact text replacement, or (WHOLE, source) to replace the whole
solution cell, or (APPEND, source) to add code after it.
"""
from __future__ import annotations

from dataclasses import dataclass

from mutants_planar import route_student  # one naming for the students of both route corpora

WHOLE = "<whole cell>"
APPEND = "<append>"

P1 = "Problem1_Softmax_CrossEntropy.ipynb"
P2 = "Problem2_Decision_Regions.ipynb"
P3 = "Problem3_Siamese_Nets.ipynb"
NOTEBOOKS = [P1, P2, P3]

# The solution cell (grade_id) of each auto-graded question, per notebook.
CELLS: dict[str, dict[str, str]] = {
    P1: {"q1_softmax": "softmax", "q1_cross_entropy": "cross_entropy",
         "q1_grad_hidden_to_output": "grad_hidden_to_output", "q1_grad_input_to_hidden": "grad_input_to_hidden",
         "q1_nll_equivalence": "nll_functions"},
    P2: {"q2_fig1b": "net_fig1b", "q2_fig1c": "net_fig1c", "q2_region_label": "region_label",
         "q2_deep_network": "net_deep", "q2_shallow_network": "net_shallow"},
    P3: {"q3_siamese_gradients": "siamese_gradients", "q3_siamese_update": "siamese_update",
         "q3_parameter_count": "siamese_parameter_count",
         "q3_pseudo_siamese_gradients": "pseudo_siamese_gradients", "q3_faster_weight": "faster_weight"},
}
QUESTIONS: dict[str, list[str]] = {nb: list(cells) for nb, cells in CELLS.items()}
NOTEBOOK_OF = {q: nb for nb, cells in CELLS.items() for q in cells}


@dataclass(frozen=True)
class Mutant:
    name: str
    question: str
    edits: tuple[tuple[str, str], ...]
    hint: str | None = None

    @property
    def notebook(self) -> str:
        return NOTEBOOK_OF[self.question]

    @property
    def cell(self) -> str:
        return CELLS[self.notebook][self.question]

    def apply(self, text: str) -> str:
        for old, new in self.edits:
            if old == WHOLE:
                text = new.strip("\n") + "\n"
            elif old == APPEND:
                text = text.rstrip("\n") + "\n\n" + new.strip("\n") + "\n"
            elif old not in text:
                raise ValueError(f"mutant {self.name}: {old!r} is not in cell {self.cell}")
            else:
                text = text.replace(old, new)
        return text


def M(name: str, question: str, edits: list[tuple[str, str]], hint: str | None = None) -> Mutant:
    return Mutant(name, question, tuple(edits), hint)


SIGMOID_A = "(1 / (1 + np.exp(-A))) * (1 - 1 / (1 + np.exp(-A)))"

MUTANTS: list[Mutant] = [
    # ---- Problem 1 --------------------------------------------------------------------
    M("p1_softmax_no_max", "q1_softmax", [("np.exp(S - np.max(S, axis=0, keepdims=True))", "np.exp(S)")],
      "overflow"),
    M("p1_ce_no_mean", "q1_cross_entropy", [("float(-np.sum(T * np.log(Z)) / N)", "float(-np.sum(T * np.log(Z)))")],
      'times too large'),
    M("p1_ce_sign", "q1_cross_entropy", [("-np.sum(T * np.log(Z))", "np.sum(T * np.log(Z))")], 'wrong sign'),
    M("p1_ce_binary", "q1_cross_entropy", [("-np.sum(T * np.log(Z))",
                                            "-np.sum(T * np.log(Z) + (1 - T) * np.log(1 - Z))")], 'binary'),
    M("p1_dW2_no_mean", "q1_grad_hidden_to_output", [("return (Z - T) @ Y.T / N", "return (Z - T) @ Y.T")],
      'times too'),
    M("p1_dW2_sign", "q1_grad_hidden_to_output", [("return (Z - T) @ Y.T / N", "return (T - Z) @ Y.T / N")],
      'wrong sign'),
    M("p1_dW2_preactivation", "q1_grad_hidden_to_output", [("return (Z - T) @ Y.T / N",
                                                            "return (Z - T) @ (W1 @ X).T / N")]),
    M("p1_dW2_transposed", "q1_grad_hidden_to_output", [("return (Z - T) @ Y.T / N", "return Y @ (Z - T).T / N")],
      'transposed'),
    M("p1_dW1_no_mean", "q1_grad_input_to_hidden", [("return delta @ X.T / N", "return delta @ X.T")], 'times too'),
    M("p1_dW1_fprime_of_Y", "q1_grad_input_to_hidden", [("* f_prime(A)", "* f_prime(Y)")]),
    M("p1_dW1_sigmoid_prime", "q1_grad_input_to_hidden", [("* f_prime(A)", "* " + SIGMOID_A)]),
    M("p1_dW1_f_not_fprime", "q1_grad_input_to_hidden", [("* f_prime(A)", "* f(A)")]),
    M("p1_dW1_no_derivative", "q1_grad_input_to_hidden", [("delta = (W2.T @ (Z - T)) * f_prime(A)",
                                                           "delta = W2.T @ (Z - T)")]),
    M("p1_nll_mean", "q1_nll_equivalence", [("float(-np.sum(np.log(", "float(-np.mean(np.log(")], 'times too small'),
    M("p1_nll_product", "q1_nll_equivalence", [("-np.sum(np.log(Z[labels, np.arange(labels.shape[0])]))",
                                                "-np.log(np.prod(Z[labels, np.arange(labels.shape[0])]))")],
      'underflows'),
    M("p1_one_hot_1_based", "q1_nll_equivalence", [("T[labels, ", "T[labels - 1, ")], 'shifted by one'),
    M("p1_one_hot_transposed", "q1_nll_equivalence", [("    return T\n", "    return T.T\n")], 'transposed'),

    # ---- Problem 2 --------------------------------------------------------------------
    M("p2_fig1b_or", "q2_fig1b", [(WHOLE, '''
def net_fig1b():
    return Network([Layer(np.eye(2), [-0.5, -0.5], "step"), Layer([[1.0, 1.0]], [-0.5], "step")])
''')]),
    M("p2_fig1b_threshold_0_4", "q2_fig1b", [("[-0.5, -0.5], \"step\")", "[-0.4, -0.4], \"step\")")]),
    M("p2_fig1b_classes_swapped", "q2_fig1b", [(WHOLE, '''
def net_fig1b():
    return Network([Layer(np.diag([1.0, -1.0]), [-0.5, 0.5], "step"), Layer([[1.0, -1.0]], [0.0], "abs")])
''')], 'swapped'),
    M("p2_fig1b_three_layers", "q2_fig1b", [("return Network([hidden, output])",
                                             'return Network([Layer(np.eye(2), [0.0, 0.0], "identity"), hidden,'
                                             ' output])')],
      'structure of Figure 1(a)'),
    M("p2_fig1c_no_fold", "q2_fig1c", [(WHOLE, '''
def net_fig1c():
    return Network([Layer(np.eye(2), [0.0, 0.0], "identity"), Layer(np.eye(2), [-0.5, -0.5], "step"),
                    Layer([[1.0, -1.0]], [0.0], "abs")])
''')]),
    M("p2_fig1c_fold_about_half", "q2_fig1c", [(WHOLE, '''
def net_fig1c():
    return Network([Layer(np.eye(2), [-0.5, -0.5], "abs"), Layer(-np.eye(2), [0.5, 0.5], "step"),
                    Layer([[1.0, -1.0]], [0.0], "abs")])
''')]),
    M("p2_fig1c_four_layers", "q2_fig1c", [("return Network([fold, hidden, output])",
                                            'return Network([Layer(np.eye(2), [0.0, 0.0], "identity"), fold, hidden,'
                                            ' output])')], '3 layers'),
    M("p2_region_integer_boundaries", "q2_region_label", [("np.floor(X[0] + 0.5) + np.floor(X[1] + 0.5)",
                                                           "np.floor(X[0]) + np.floor(X[1])")]),
    M("p2_region_classes_swapped", "q2_region_label", [("return ((", "return 1 - ((")], 'swapped'),
    M("p2_region_folded_once", "q2_region_label", [(WHOLE, '''
def region_label(X):
    U = 1 - np.abs(X - 1)
    return ((U[0] > 0.5) != (U[1] > 0.5)).astype(int)
''')]),
    M("p2_deep_every_fold_about_1", "q2_deep_network", [(WHOLE, '''
def net_deep(n):
    layers = [Layer(np.eye(2), [-1.0, -1.0], "abs")] + [Layer(-np.eye(2), [0.0, 0.0], "abs") for _ in range(n - 1)]
    return Network(layers + [Layer(-np.eye(2), [0.5, 0.5], "step"), Layer([[1.0, -1.0]], [0.0], "abs")])
''')]),
    M("p2_deep_quadratic_units", "q2_deep_network", [(APPEND, '''
_right = net_deep
def net_deep(n):
    layers = _right(n).layers
    padded = []
    extra_in = 0
    for k, layer in enumerate(layers):
        extra = k if k < len(layers) - 1 else 0       # k idle units in layer k
        W = np.zeros((layer.W.shape[0] + extra, layer.W.shape[1] + extra_in))
        W[:layer.W.shape[0], :layer.W.shape[1]] = layer.W
        b = np.concatenate([layer.b, np.zeros(extra)])
        padded.append(Layer(W, b, layer.activation))
        extra_in = extra
    return Network(padded)
''')], 'grow linearly'),
    M("p2_deep_one_hidden_layer", "q2_deep_network", [(WHOLE, '''
def net_deep(n):
    lines = np.arange(2 ** n) + 0.5
    K = lines.size
    W = np.zeros((2 * K, 2))
    W[:K, 0], W[K:, 1] = 1.0, 1.0
    signs = (-1.0) ** np.arange(K)
    return Network([Layer(W, -np.concatenate([lines, lines]), "step"),
                    Layer(np.concatenate([signs, -signs])[None, :], [0.0], "abs")])
''')], 'grow linearly'),
    M("p2_deep_one_fold_short", "q2_deep_network", [("for k in range(n - 1, -1, -1):",
                                                     "for k in range(n - 2, -1, -1):")]),
    M("p2_shallow_is_deep", "q2_shallow_network", [(WHOLE, '''
def net_shallow(n):
    return net_deep(n)
''')], 'only one hidden layer'),
    M("p2_shallow_last_line_missing", "q2_shallow_network", [("np.arange(2 ** n) + 0.5",
                                                              "np.arange(2 ** n - 1) + 0.5")]),
    M("p2_shallow_threshold_output", "q2_shallow_network", [('[None, :], [0.0], "abs")', '[None, :], [0.0], "step")')]),
    M("p2_shallow_same_signs", "q2_shallow_network", [("np.concatenate([signs, -signs])",
                                                       "np.concatenate([signs, signs])")]),

    # ---- Problem 3 --------------------------------------------------------------------
    M("p3_no_lambda_W", "q3_siamese_gradients", [(" + lam * W", "")], 'regularisation term is missing'),
    M("p3_half_lambda_W", "q3_siamese_gradients", [("lam * W", "lam * W / 2")], 'regularisation term is off'),
    M("p3_first_branch_only", "q3_siamese_gradients", [("d1 @ x1.T + d2 @ x2.T", "d1 @ x1.T"),
                                                       ("grad_b = d1 + d2", "grad_b = d1")], 'both branches'),
    M("p3_same_sign_branches", "q3_siamese_gradients", [("d2 = (h2 - h1)", "d2 = (h1 - h2)")]),
    M("p3_relu_prime_for_sigmoid", "q3_siamese_gradients", [("* h1 * (1 - h1)", "* ((W @ x1 + b) > 0)"),
                                                            ("* h2 * (1 - h2)", "* ((W @ x2 + b) > 0)")]),
    M("p3_regularised_bias", "q3_siamese_gradients", [("grad_b = d1 + d2", "grad_b = d1 + d2 + lam * b")],
      'Only W is regularised'),
    M("p3_transposed_outer", "q3_siamese_gradients", [("d1 @ x1.T + d2 @ x2.T + lam * W",
                                                       "x1 @ d1.T + x2 @ d2.T + lam * W.T")], 'transposed'),
    M("p3_update_uphill", "q3_siamese_update", [("W - alpha * grad_W, b - alpha * grad_b",
                                                 "W + alpha * grad_W, b + alpha * grad_b")], 'uphill'),
    M("p3_update_no_alpha", "q3_siamese_update", [("W - alpha * grad_W, b - alpha * grad_b", "W - grad_W, b - grad_b")],
      'step size alpha'),
    M("p3_update_W_only", "q3_siamese_update", [("return W - alpha * grad_W, b - alpha * grad_b",
                                                  "return W - alpha * grad_W")], 'the pair (W_new, b_new)'),
    M("p3_update_bias_frozen", "q3_siamese_update", [("b - alpha * grad_b", "b")], 'b was not updated'),
    M("p3_count_twice", "q3_parameter_count", [("return m * n + m", "return 2 * (m * n + m)")], 'twice'),
    M("p3_count_no_bias", "q3_parameter_count", [("return m * n + m", "return m * n")]),
    M("p3_count_float", "q3_parameter_count", [("return m * n + m", "return float(m * n + m)")], 'int, not a float'),
    M("p3_count_hard_wired", "q3_parameter_count", [("return m * n + m", "return 60")]),
    M("p3_pseudo_no_mean", "q3_pseudo_siamese_gradients", [("G = W3.T @ (Y_hat - Y) / N", "G = W3.T @ (Y_hat - Y)")],
      'times too large'),
    M("p3_pseudo_sign", "q3_pseudo_siamese_gradients", [("G = W3.T @ (Y_hat - Y) / N", "G = W3.T @ (Y - Y_hat) / N")],
      'wrong sign'),
    M("p3_dh2_through_relu", "q3_pseudo_siamese_gradients", [("dJ_dh2 = G.copy()", "dJ_dh2 = G * (A2 > 0)")],
      'through their sum'),
    M("p3_dh1_through_sigmoid", "q3_pseudo_siamese_gradients", [("dJ_dh1 = G\n", "dJ_dh1 = G * H1 * (1 - H1)\n")],
      'through their sum'),
    M("p3_dX_no_relu_branch", "q3_pseudo_siamese_gradients", [(" + W2.T @ (G * (A2 > 0))", "")], 'both branches'),
    M("p3_dX_sigmoid_prime_in_relu_branch", "q3_pseudo_siamese_gradients", [("G * (A2 > 0))", "G * H2 * (1 - H2))")]),
    M("p3_dX_activations", "q3_pseudo_siamese_gradients", [("W1.T @ (G * H1 * (1 - H1)) + W2.T @ (G * (A2 > 0))",
                                                            "W1.T @ (G * H1) + W2.T @ (G * H2)")]),
    M("p3_dX_rows", "q3_pseudo_siamese_gradients", [("G = W3.T @ (Y_hat - Y) / N", "G = (Y_hat - Y).T @ W3 / N")]),
    M("p3_faster_W1", "q3_faster_weight", [('FASTER_WEIGHT = "W2"', 'FASTER_WEIGHT = "W1"')], 'likely to train faster'),
    M("p3_faster_lowercase", "q3_faster_weight", [('FASTER_WEIGHT = "W2"', 'FASTER_WEIGHT = "w2"')], '"W1" or "W2"'),
]
BY_NAME = {m.name: m for m in MUTANTS}
assert len(BY_NAME) == len(MUTANTS), "mutant names must be unique"

# Wrong softmax variants that once also cost the gradient questions (they call softmax); the
# gradient checks now replace it by a stand-in. Tested kernel-free only, to keep the real-route run short.
LEAKS: list[tuple[Mutant, list[str]]] = [
    (M("p1_softmax_over_rows", "q1_softmax", [("np.max(S, axis=0, keepdims=True)", "np.max(S, axis=1, keepdims=True)"),
                                              ("np.sum(E, axis=0, keepdims=True)",
                                               "np.sum(E, axis=1, keepdims=True)")]),
     ["q1_grad_hidden_to_output", "q1_grad_input_to_hidden"]),
    (M("p1_softmax_float16", "q1_softmax", [("return E / np.sum(E, axis=0, keepdims=True)",
                                             "return (E / np.sum(E, axis=0, keepdims=True)).astype(np.float16)")]),
     ["q1_grad_hidden_to_output", "q1_grad_input_to_hidden"]),
]

# Numerically fragile softmax variants, caught by the hidden cases with columns of very different
# scale. Tested kernel-free only, to keep the real-route run short.
UNCAUGHT: list[Mutant] = [
    # one maximum for the whole batch: a column whose logits all lie far below another column's
    # maximum underflows to 0/0 = nan; no case mixes such columns
    M("p1_softmax_global_max", "q1_softmax", [("np.max(S, axis=0, keepdims=True)", "np.max(S)")]),
    # the column minimum instead of the maximum: exp overflows once a column spans more than ~709
    M("p1_softmax_min_not_max", "q1_softmax", [("np.exp(S - np.max(S,", "np.exp(S - np.min(S,")]),
]


# Correct answers written the ways students really write them (np.dot / np.outer / einsum,
# broadcasting without keepdims, loops, np.float64 and np.int64 results, int and bool arrays, other
# but equivalent networks, prints and harmless warnings): each must keep full marks everywhere. A
# variant that loses a point is a grader bug: fix the check, not the variant. One variant rewrites
# one solution cell (edits as for mutants: [(cell, old, new)], old may be WHOLE or APPEND), so
# `route_packs` can write them into the cells the mutant packs leave alone.
ONE_HOT_BODY = "T = np.zeros((c, labels.shape[0]))\n    T[labels, np.arange(labels.shape[0])] = 1.0\n    return T"
NLL_LINE = "return float(-np.sum(np.log(Z[labels, np.arange(labels.shape[0])])))"
VARIANTS: dict[str, list[tuple[str, str, str]]] = {
    # ---- Problem 1 --------------------------------------------------------------------
    "p1_softmax_broadcast": [
        ("softmax", "E = np.exp(S - np.max(S, axis=0, keepdims=True))\n    return E / np.sum(E, axis=0, keepdims=True)",
         "E = np.exp(S - S.max(axis=0))\n    return E / E.sum(axis=0)")],
    "p1_softmax_column_loop": [("softmax", WHOLE, """
def softmax(S):
    Z = np.zeros(S.shape)
    for j in range(S.shape[1]):
        s = S[:, j] - np.max(S[:, j])
        Z[:, j] = np.exp(s) / np.sum(np.exp(s))
    return Z
""")],
    "p1_softmax_prints_warnings": [
        ("softmax", "E = np.exp(S - np.max(S, axis=0, keepdims=True))",
         "warnings.warn('softmax called')\n    E = np.exp(S - np.max(S, axis=0, keepdims=True))"),
        ("softmax", APPEND, """
import warnings
print(softmax(np.array([[1000.0, -1000.0], [999.0, -1001.0]])))
print(np.exp(np.array([1000.0])))  # RuntimeWarning: overflow, harmless here
""")],
    "p1_ce_mean_of_column_sums": [
        ("cross_entropy", "return float(-np.sum(T * np.log(Z)) / N)",
         "return float(-np.mean(np.sum(T * np.log(Z), axis=0)))")],
    "p1_ce_float64_and_print": [
        ("cross_entropy", "return float(-np.sum(T * np.log(Z)) / N)",
         "print('N =', N)\n    return -np.sum(T * np.log(Z)) / N  # an np.float64")],
    "p1_ce_clipped": [
        ("cross_entropy", "return float(-np.sum(T * np.log(Z)) / N)",
         "return float(-np.sum(T * np.log(np.clip(Z, 1e-15, 1.0))) / N)")],
    "p1_dW2_dot": [("grad_hidden_to_output", "return (Z - T) @ Y.T / N", "return np.dot(Z - T, Y.T) / N")],
    "p1_dW2_sample_loop": [("grad_hidden_to_output", WHOLE, """
def grad_hidden_to_output(X, T, W1, W2, f):
    N = X.shape[1]
    grad = np.zeros(W2.shape)
    for i in range(N):
        y = f(W1 @ X[:, i:i + 1])
        s = W2 @ y
        z = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
        grad += np.outer(z - T[:, i:i + 1], y)
    return grad / N
""")],
    "p1_dW1_multiply_dot": [
        ("grad_input_to_hidden", "delta = (W2.T @ (Z - T)) * f_prime(A)",
         "delta = np.multiply(np.dot(W2.T, Z - T), f_prime(np.dot(W1, X)))")],
    "p1_dW1_einsum": [
        ("grad_input_to_hidden", "return delta @ X.T / N", "return (1.0 / N) * np.einsum('hn,dn->hd', delta, X)")],
    "p1_nll_eye_float64": [
        ("nll_functions", ONE_HOT_BODY, "return np.eye(c)[labels].T"),
        ("nll_functions", NLL_LINE, "return -np.log(Z[labels, range(len(labels))]).sum()  # an np.float64")],
    "p1_nll_int_one_hot_choose": [
        ("nll_functions", ONE_HOT_BODY,
         "T = np.zeros((c, len(labels)), dtype=int)\n    for i, label in enumerate(labels):\n"
         "        T[label, i] = 1\n    return T"),
        ("nll_functions", NLL_LINE, "return float(-np.sum(np.log(np.choose(labels, Z))))")],
    "p1_nll_through_one_hot": [
        ("nll_functions", NLL_LINE, "return float(-np.sum(one_hot(labels, Z.shape[0]) * np.log(Z)))")],
    # ---- Problem 2 --------------------------------------------------------------------
    "p2_fig1b_scaled_int_weights": [
        ("net_fig1b", 'hidden = Layer([[1.0, 0.0], [0.0, 1.0]], [-0.5, -0.5], "step")',
         'hidden = Layer(np.array([[2, 0], [0, 2]]), np.array([-1, -1]), "step")'),
        ("net_fig1b", 'output = Layer([[1.0, -1.0]], [0.0], "abs")', 'output = Layer([[-1.0, 1.0]], [0.0], "abs")')],
    "p2_fig1c_both_steps_flipped": [
        ("net_fig1c", 'hidden = Layer(-np.eye(2), [0.5, 0.5], "step")',
         'hidden = Layer(np.eye(2), [-0.5, -0.5], "step")  # both flipped: their XOR is unchanged')],
    "p2_region_round_bool": [
        ("region_label", "return ((np.floor(X[0] + 0.5) + np.floor(X[1] + 0.5)) % 2).astype(int)",
         "return (np.round(X[0]) + np.round(X[1])) % 2 == 1")],
    "p2_region_fold_loop": [("region_label", WHOLE, """
def region_label(X):
    U = np.array(X, dtype=float)
    c = 2.0 ** int(np.ceil(np.log2(max(float(U.max()), 1.0))))
    while c > 1:
        c /= 2
        U = c - np.abs(U - c)   # fold about c
    return np.logical_xor(U[0] > 0.5, U[1] > 0.5).astype(float)
""")],
    "p2_deep_chain_of_abs": [("net_deep", WHOLE, """
def net_deep(n):
    folds = [Layer(np.eye(2), [-2.0 ** k, -2.0 ** k], "abs") for k in range(n - 1, -1, -1)]
    return Network(folds + [Layer(-np.eye(2), [0.5, 0.5], "step"), Layer([[1.0, -1.0]], [0.0], "abs")])
""")],
    "p2_shallow_python_lists": [("net_shallow", WHOLE, """
def net_shallow(n):
    K = 2 ** n
    weights, biases, signs = [], [], []
    for axis in range(2):
        for k in range(K):
            weights.append([1.0 if axis == 0 else 0.0, 1.0 if axis == 1 else 0.0])
            biases.append(-(k + 0.5))
            signs.append((-1) ** k if axis == 0 else -((-1) ** k))
    return Network([Layer(weights, biases, "step"), Layer([signs], [0.0], "abs")])
""")],
    # ---- Problem 3 --------------------------------------------------------------------
    "p3_grads_own_sigmoid_outer": [("siamese_gradients", WHOLE, """
def siamese_gradients(W, b, x1, x2, lam):
    sig = lambda z: 1 / (1 + np.exp(-z))
    a1, a2 = np.dot(W, x1) + b, np.dot(W, x2) + b
    h1, h2 = sig(a1), sig(a2)
    d1 = (h1 - h2) * sig(a1) * (1 - sig(a1))
    d2 = -(h1 - h2) * sig(a2) * (1 - sig(a2))
    grad_W = np.outer(d1, x1) + np.outer(d2, x2) + lam * W
    grad_b = (d1 + d2).reshape(-1, 1)
    return grad_W, grad_b
""")],
    "p3_grads_print": [("siamese_gradients", "grad_b = d1 + d2",
                        "grad_b = d1 + d2\n    print('grad_b', grad_b.shape)")],
    "p3_update_in_place": [
        ("siamese_update", "return W - alpha * grad_W, b - alpha * grad_b",
         "W -= alpha * grad_W\n    b -= alpha * grad_b\n    return W, b")],
    "p3_update_copies": [
        ("siamese_update", "return W - alpha * grad_W, b - alpha * grad_b",
         "W_new = W.copy() - alpha * grad_W\n    b_new = b.copy() - alpha * grad_b\n    return (W_new, b_new)")],
    "p3_count_numpy_int": [("siamese_parameter_count", "return m * n + m",
                            "return np.prod([m, n]) + m  # an np.int64")],
    "p3_count_sizes": [("siamese_parameter_count", "return m * n + m",
                        "W_size, b_size = m * n, m\n    return int(W_size + b_size)")],
    "p3_pseudo_heaviside_warning": [("pseudo_siamese_gradients", WHOLE, """
import warnings


def stable_softmax(S):
    E = np.exp(S - np.max(S, axis=0))
    return E / np.sum(E, axis=0)


def pseudo_siamese_gradients(X, Y, W1, b1, W2, b2, W3, b3):
    N = X.shape[1]
    A1 = np.dot(W1, X) + b1
    A2 = np.dot(W2, X) + b2
    H1 = sigmoid(A1)
    H2 = relu(A2)
    Y_hat = stable_softmax(np.dot(W3, H1 + H2) + b3)
    dS = (Y_hat - Y) / N
    dJ_dh1 = np.dot(W3.T, dS)
    dJ_dh2 = dJ_dh1  # the same array: h1 and h2 enter only through their sum
    warnings.warn("returning the gradients")
    dJ_dX = np.dot(W1.T, dJ_dh1 * sigmoid(A1) * (1 - sigmoid(A1))) + np.dot(W2.T, dJ_dh2 * np.heaviside(A2, 0.0))
    return dJ_dh1, dJ_dh2, dJ_dX


print(np.exp(1000.0))  # RuntimeWarning: overflow
""")],
    "p3_faster_single_quotes": [("faster_weight", 'FASTER_WEIGHT = "W2"', "FASTER_WEIGHT = 'W2'  # the ReLU branch")],
    "p3_faster_print": [("faster_weight", 'FASTER_WEIGHT = "W2"',
                         'print("ReLU does not saturate")\nFASTER_WEIGHT = "W2"')],
    # ---- issue 24: lists for tuples, namedtuples, other NumPy spellings ----------------------------
    "p1_one_hot_compare_take_along": [
        ("nll_functions", ONE_HOT_BODY, "return (np.arange(c)[:, None] == labels[None, :]).astype(int)"),
        ("nll_functions", NLL_LINE,
         "return float(-np.sum(np.log(np.take_along_axis(Z, labels[None, :], axis=0))))")],
    "p1_ce_where_log": [
        ("cross_entropy", "return float(-np.sum(T * np.log(Z)) / N)",
         "return float(-np.sum(np.where(T > 0, np.log(Z), 0.0)) / N)")],
    "p3_grads_namedtuple": [
        ("siamese_gradients", "return grad_W, grad_b",
         "from collections import namedtuple\n    return namedtuple('Gradients', 'grad_W grad_b')(grad_W, grad_b)")],
    "p3_update_list": [
        ("siamese_update", "return W - alpha * grad_W, b - alpha * grad_b",
         "return [W - alpha * grad_W, b - alpha * grad_b]")],
    "p3_pseudo_list": [
        ("pseudo_siamese_gradients", "return dJ_dh1, dJ_dh2, dJ_dX", "return [dJ_dh1, dJ_dh2, dJ_dX]")],
    "p3_count_sizes_of_arrays": [
        ("siamese_parameter_count", "return m * n + m", "return np.zeros((m, n)).size + np.zeros(m).size")],
    "p1_softmax_in_place": [("softmax", WHOLE, """
def softmax(S):
    S = S.astype(float, copy=False)
    S -= np.max(S, axis=0, keepdims=True)
    np.exp(S, out=S)
    S /= S.sum(axis=0, keepdims=True)
    return S
""")],
    "p1_softmax_apply_along_axis": [("softmax", WHOLE, """
def softmax(S):
    return np.apply_along_axis(lambda s: np.exp(s - s.max()) / np.exp(s - s.max()).sum(), 0, S)
""")],
    "p1_ce_einsum": [("cross_entropy", "return float(-np.sum(T * np.log(Z)) / N)",
                      "return -np.einsum('ij,ij->', T, np.log(Z)) / N")],
    "p1_ce_picked_probabilities": [("cross_entropy", "return float(-np.sum(T * np.log(Z)) / N)",
                                    "return float(np.mean(-np.log(np.sum(Z * T, axis=0))))")],
    "p1_dW2_own_softmax": [("grad_hidden_to_output", "Z = softmax(W2 @ Y)",
                            "S = W2 @ Y\n    Z = np.exp(S - S.max(axis=0)) / np.exp(S - S.max(axis=0)).sum(axis=0)")],
    "p1_dW1_outer_loop": [("grad_input_to_hidden", "return delta @ X.T / N",
                           "grad = np.zeros_like(W1)\n    for i in range(N):\n"
                           "        grad += np.outer(delta[:, i], X[:, i])\n    return grad / N")],
    "p1_nll_identity_generator": [
        ("nll_functions", ONE_HOT_BODY, "return np.identity(c)[:, labels]"),
        ("nll_functions", NLL_LINE, "return -sum(np.log(Z[y_i, i]) for i, y_i in enumerate(labels))")],
    "p2_fig1b_keywords_tuples": [
        ("net_fig1b", 'hidden = Layer([[1.0, 0.0], [0.0, 1.0]], [-0.5, -0.5], "step")',
         'hidden = Layer(W=((1, 0), (0, 1)), b=(-0.5, -0.5), activation="step")')],
    "p2_region_xor_float32": [
        ("region_label", "return ((np.floor(X[0] + 0.5) + np.floor(X[1] + 0.5)) % 2).astype(int)",
         "return np.logical_xor(np.floor(X[0] + 0.5) % 2, np.floor(X[1] + 0.5) % 2).astype(np.float32)")],
    "p3_grads_reshape_dot": [
        ("siamese_gradients", "grad_b = d1 + d2", "grad_b = (d1 + d2).reshape(b.shape)"),
        ("siamese_gradients", "grad_W = d1 @ x1.T + d2 @ x2.T + lam * W",
         "grad_W = np.dot(d1, x1.T) + np.dot(d2, x2.T) + lam * W")],
    "p3_update_copies_in_place": [
        ("siamese_update", "return W - alpha * grad_W, b - alpha * grad_b",
         "W_new = np.copy(W)\n    b_new = np.copy(b)\n    W_new -= alpha * grad_W\n    b_new -= alpha * grad_b\n"
         "    return W_new, b_new")],
    "p3_count_prod": [("siamese_parameter_count", "return m * n + m", "return int(np.prod((m, n))) + m")],
    "p3_faster_trailing_space": [("faster_weight", 'FASTER_WEIGHT = "W2"', 'FASTER_WEIGHT = "W2 "')],
    "p3_pseudo_asarray": [
        ("pseudo_siamese_gradients", "return dJ_dh1, dJ_dh2, dJ_dX",
         "return (np.asarray(dJ_dh1), np.asarray(dJ_dh2), dJ_dX.astype(np.float64))")],
}
HELD_OUT_STYLES = ("p1_one_hot_compare_take_along", "p1_ce_where_log", "p3_grads_namedtuple", "p3_update_list",
                   "p3_pseudo_list", "p3_count_sizes_of_arrays", "p1_softmax_in_place", "p1_softmax_apply_along_axis",
                   "p1_ce_einsum", "p1_ce_picked_probabilities", "p1_dW2_own_softmax", "p1_dW1_outer_loop",
                   "p1_nll_identity_generator", "p2_fig1b_keywords_tuples", "p2_region_xor_float32",
                   "p3_grads_reshape_dot", "p3_update_copies_in_place", "p3_count_prod", "p3_faster_trailing_space",
                   "p3_pseudo_asarray")  # issue 24: real routes only where cells are free
VARIANT_NOTEBOOK = {"p1": P1, "p2": P2, "p3": P3}


def variant_notebook(name: str) -> str:
    return VARIANT_NOTEBOOK[name[:2]]


def _edit_text(text: str, old: str, new: str, what: str) -> str:
    if old == WHOLE:
        return new.strip("\n") + "\n"
    if old == APPEND:
        return text.rstrip("\n") + "\n\n" + new.strip("\n") + "\n"
    if old not in text:
        raise ValueError(f"{what}: {old!r} is not in the cell")
    return text.replace(old, new)


def variant_edit(*names: str):
    """An `edit(grade_id, source)` writing the given variants (which edit different cells)."""
    def edit(cell: str, text: str) -> str:
        for name in names:
            for target, old, new in VARIANTS[name]:
                if target == cell:
                    text = _edit_text(text, old, new, f"variant {name}, cell {cell}")
        return text
    return edit


# Notebooks per Problem the shared class grades (its run time, and Otter's): the mutant packs fill them
# first, then the correct variants the cells left free; a variant that no longer fits is checked
# kernel-free only (`test_correct_variants_keep_full_marks`), not through the real routes.
ROUTE_BUDGET = {P1: 7, P2: 5, P3: 9}


def route_packs(notebook: str) -> list[tuple[list[Mutant], list[str]]]:
    """What the real routes grade for `notebook`: the mutant packs, with the correct variants written
    into the solution cells they leave alone (questions are judged on their own cells), then packs of
    variants only for the rest, up to the notebook's budget. Each is (mutants, variant names)."""
    cells = {name: {cell for cell, _, _ in edits} for name, edits in VARIANTS.items()}
    packs = [(list(mutants), []) for mutants in pack(notebook)]
    assert len(packs) <= ROUTE_BUDGET[notebook], f"{notebook}: more mutant packs than the route budget"
    used = [{m.cell for m in mutants} for mutants, _ in packs]
    mine = [name for name in VARIANTS if variant_notebook(name) == notebook]
    for name in sorted(mine, key=lambda n: (n in HELD_OUT_STYLES, -len(cells[n]))):  # older first; largest first
        for (_, variants), taken in zip(packs, used):
            if not cells[name] & taken:
                variants.append(name)
                taken |= cells[name]
                break
        else:
            if len(packs) < ROUTE_BUDGET[notebook]:
                packs.append(([], [name]))
                used.append(set(cells[name]))
    return packs


def mutant_edit(mutants: list[Mutant], variants: tuple[str, ...] = ()):
    """An `edit(grade_id, source)` that plants the given mutants (at most one per cell) and writes the
    correct `variants` into other cells."""
    by_cell = {m.cell: m for m in mutants}
    assert len(by_cell) == len(mutants), "one mutant per cell"
    written = variant_edit(*variants)
    assert not set(by_cell) & {cell for name in variants for cell, _, _ in VARIANTS[name]}, "a cell is edited twice"
    return lambda cell, text: by_cell[cell].apply(text) if cell in by_cell else written(cell, text)


def pack(notebook: str, mutants: list[Mutant] | None = None) -> list[list[Mutant]]:
    """The notebook's mutants spread over as few notebooks as possible, at most one per question
    (each question's check runs only its own cell, so mutants of different questions do not interact)."""
    packs: list[list[Mutant]] = []
    for mutant in (MUTANTS if mutants is None else mutants):
        if mutant.notebook != notebook:
            continue
        for group in packs:
            if all(other.question != mutant.question for other in group):
                group.append(mutant)
                break
        else:
            packs.append([mutant])
    return packs


# --- the real-route corpus: student i hands in pack i of each notebook -----------------------------

ROUTE_PACKS = {notebook: route_packs(notebook) for notebook in NOTEBOOKS}  # (mutants, correct variants)
ROUTE_STUDENTS = [route_student(i) for i in range(max(len(p) for p in ROUTE_PACKS.values()))]
ROUTED_VARIANTS = [name for packs in ROUTE_PACKS.values() for _, variants in packs for name in variants]


def mutants_of(student: str, notebook: str) -> list[Mutant]:
    """The mutants in student i's notebook (none: the filled reference, once the packs run out)."""
    i = ROUTE_STUDENTS.index(student)
    return ROUTE_PACKS[notebook][i][0] if i < len(ROUTE_PACKS[notebook]) else []


def variants_of(student: str, notebook: str) -> list[str]:
    """The correct variants written into the other cells of student i's notebook."""
    i = ROUTE_STUDENTS.index(student)
    return ROUTE_PACKS[notebook][i][1] if i < len(ROUTE_PACKS[notebook]) else []


def lost(student: str, notebook: str) -> set[str]:
    return {m.question for m in mutants_of(student, notebook)}


# What Otter grades: the notebooks with a pack (the filled reference, once the packs run out, is not sent)
OTTER_ROUTE = [(s, nb) for s in ROUTE_STUDENTS for nb in NOTEBOOKS if mutants_of(s, nb) or variants_of(s, nb)]


def route_notebook(course, student: str, notebook: str):
    """Student `student`'s `notebook`: the release with the instructor's answers, its pack planted."""
    from hwkit.demo import filled_release

    return filled_release(course, notebook, mutant_edit(mutants_of(student, notebook),
                                                        tuple(variants_of(student, notebook))))
