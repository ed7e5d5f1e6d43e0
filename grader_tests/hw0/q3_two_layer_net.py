"""Otter test for q3_two_layer_net (5 point(s)), written by hwkit build from its test cell in source/hw0/Warmup.ipynb.

Do not edit: change the test cell and run `hwkit build` again.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q3_two_layer_net"
points = 5
all_or_nothing = True  # like the nbgrader test cell: every test passes or the question scores 0
VISIBLE = '"""q3_two_layer_net: fc1 and fc2 with biases, parameter count, output shape, forward = relu(x W1^T + b1) W2^T + b2"""\nnet = TwoLayerNet(3, 4, 2)\ncount = sum(p.numel() for p in net.parameters())\nassert count == 3 * 4 + 4 + 4 * 2 + 2, f"{count} parameters: fc1, fc2 with biases, no others (case: 3-4-2)"\nx = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))\nout = net(x)\nassert isinstance(out, torch.Tensor), f"forward must return a tensor, not {type(out).__name__} (case: 3-4-2)"\nassert tuple(out.shape) == (5, 2), f"output shape {tuple(out.shape)} is not (N, n_out) (case: 3-4-2, 5 examples)"\nW1, b1, W2, b2 = net.fc1.weight, net.fc1.bias, net.fc2.weight, net.fc2.bias\nassert torch.allclose(out, torch.relu(x @ W1.T + b1) @ W2.T + b2, atol=1e-6), \\\n    "forward is not relu(x W1^T + b1) W2^T + b2 of the net\'s own fc1, fc2 (case: 3-4-2, 5 examples, seed 0)"'
WHOLE = '"""q3_two_layer_net: fc1 and fc2 with biases, parameter count, output shape, forward = relu(x W1^T + b1) W2^T + b2"""\nnet = TwoLayerNet(3, 4, 2)\ncount = sum(p.numel() for p in net.parameters())\nassert count == 3 * 4 + 4 + 4 * 2 + 2, f"{count} parameters: fc1, fc2 with biases, no others (case: 3-4-2)"\nx = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))\nout = net(x)\nassert isinstance(out, torch.Tensor), f"forward must return a tensor, not {type(out).__name__} (case: 3-4-2)"\nassert tuple(out.shape) == (5, 2), f"output shape {tuple(out.shape)} is not (N, n_out) (case: 3-4-2, 5 examples)"\nW1, b1, W2, b2 = net.fc1.weight, net.fc1.bias, net.fc2.weight, net.fc2.bias\nassert torch.allclose(out, torch.relu(x @ W1.T + b1) @ W2.T + b2, atol=1e-6), \\\n    "forward is not relu(x W1^T + b1) W2^T + b2 of the net\'s own fc1, fc2 (case: 3-4-2, 5 examples, seed 0)"\n### BEGIN HIDDEN TESTS\nfor n_in, n_hidden, n_out, n, seed in [(784, 128, 10, 16, 1), (2, 1, 3, 1, 2), (5, 6, 4, 9, 3)]:\n    net = TwoLayerNet(n_in, n_hidden, n_out)\n    count = sum(p.numel() for p in net.parameters())\n    assert count == n_in * n_hidden + n_hidden + n_hidden * n_out + n_out, \\\n        f"wrong parameter count (case: TwoLayerNet({n_in}, {n_hidden}, {n_out}))"\n    x = torch.randn(n, n_in, generator=torch.Generator().manual_seed(seed)) * 3\n    out = net(x)\n    assert tuple(out.shape) == (n, n_out), f"wrong output shape (case: {n_in}-{n_hidden}-{n_out}, {n} examples)"\n    W1, b1, W2, b2 = net.fc1.weight, net.fc1.bias, net.fc2.weight, net.fc2.bias\n    assert torch.allclose(out, torch.relu(x @ W1.T + b1) @ W2.T + b2, atol=1e-5), \\\n        f"forward is not relu(x W1^T + b1) W2^T + b2 (case: {n_in}-{n_hidden}-{n_out}, {n} examples, seed {seed})"\n### END HIDDEN TESTS'


@test_case(name="visible tests", hidden=False)
def visible_tests(env):
    exec(compile(VISIBLE, "<test q3_two_layer_net>", "exec"), dict(env))


@test_case(name="hidden tests", hidden=True)
def hidden_tests(env):
    exec(compile(WHOLE, "<test q3_two_layer_net>", "exec"), dict(env))
