"""The facts the chapter prints (sections 2, 4 and 5), each checked against today's torch.

Where the chapter's output came from an old torch release (grad_fn names such as
ThAddmmBackward, or zero_grad filling zeros), the test checks the lasting fact and states
what today's torch does instead.
"""

import pytest
import torch
from torch import nn

from blitzbench.measure.batches import images, regression_targets, seeded_model
from blitzbench.measure.tolerances import assert_close
from reference_models import build
from reference_models.references import losses, networks

# print(net), section 2 ("#output[0]:" lines of the chapter).
CHAPTER_PRINT = """Net(
  (conv1): Conv2d(1, 6, kernel_size=(3, 3), stride=(1, 1))
  (conv2): Conv2d(6, 16, kernel_size=(3, 3), stride=(1, 1))
  (fc1): Linear(in_features=576, out_features=120, bias=True)
  (fc2): Linear(in_features=120, out_features=84, bias=True)
  (fc3): Linear(in_features=84, out_features=10, bias=True)
)"""


def chapter_loss(device, dtype=torch.float32):
    """Section 4 as written: one input, output = net(input), MSELoss against randn(10).view(1, -1)."""
    net = seeded_model("chapter_net", device, dtype)
    x = images("chapter_net", 1, device, dtype)
    target = regression_targets("chapter_net", 1, device, dtype)[0]  # torch.randn(10)
    target = target.view(1, -1)
    output = net(x)
    loss = nn.MSELoss()(output, target)
    return net, x, output, target, loss


def test_print_shows_the_chapters_module_tree():
    assert repr(build("chapter_net")) == CHAPTER_PRINT


def test_ten_parameter_tensors_and_params1_is_conv1_bias():
    params = list(build("chapter_net").parameters())
    assert len(params) == 10
    assert params[1].size() == torch.Size([6])


def test_output_is_one_row_of_ten(device):
    _, _, output, _, _ = chapter_loss(device)
    assert output.shape == (1, 10)


def test_target_view_and_mse_loss_equal_the_formula(device):
    net, x, output, target, loss = chapter_loss(device, torch.float64)
    assert target.shape == (1, 10)
    assert loss.dim() == 0
    expected_output = networks.logits("chapter_net", net, x)
    assert_close(output, expected_output)
    assert_close(loss, losses.mse(expected_output, target))


def test_grad_fn_chain_is_mse_then_addmm(device):
    # The chapter prints MseLossBackward and (ThAddmmBackward / AddmmBackward); releases since
    # 1.9 append a version number (MseLossBackward0), so the names are matched by prefix.
    _, _, _, _, loss = chapter_loss(device)
    assert type(loss.grad_fn).__name__.startswith("MseLossBackward")
    assert type(loss.grad_fn.next_functions[0][0]).__name__.startswith("AddmmBackward")


def test_conv1_bias_grad_before_and_after_backward(device):
    net, x, _, target, loss = chapter_loss(device, torch.float64)
    assert net.conv1.bias.grad is None  # nothing has been backpropagated yet
    loss.backward()
    assert net.conv1.bias.grad is not None
    net.zero_grad()
    # The chapter printed zeros here; since torch 2.0 zero_grad() sets gradients to None.
    assert net.conv1.bias.grad is None

    loss = nn.MSELoss()(net(x), target)
    loss.backward()
    _, expected = networks.loss_and_gradients("chapter_net", net, x, target, loss="mse")
    assert net.conv1.bias.grad.shape == (6,)
    assert net.conv1.bias.grad.abs().sum() > 0
    assert_close(net.conv1.bias.grad, expected["conv1.bias"])

    net.zero_grad(set_to_none=False)  # the chapter's zeros, asked for explicitly
    assert torch.equal(net.conv1.bias.grad, torch.zeros_like(net.conv1.bias))


def test_second_backward_through_the_same_graph_raises(device):
    # The chapter calls loss.backward() in section 4 and again on the same loss in section 5.
    # The first backward frees the graph's saved tensors, so the second one is an error
    # unless the first passed retain_graph=True.
    _, _, _, _, loss = chapter_loss(device)
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
