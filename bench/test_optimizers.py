"""Optimizer steps (the chapter's section 6) against their update equations, in every variant torch
has for them.

torch.optim.SGD, Adam and AdamW each have three implementations of the same step: a loop over the
parameters (``foreach=False``), multi-tensor kernels (``foreach=True``, the default on CUDA) and a
fused kernel (``fused=True``), plus the ``differentiable`` path (the loop run under autograd). Each
has its own code per dtype and, inside a kernel, a vectorised block and a scalar tail. So every
option combination runs in every implementation (:data:`IMPLEMENTATIONS`), on parameters in
float64, float32, bfloat16 and float16 (:data:`blitzbench.variants.FLOATS`) of sizes below, at and
above the common vector widths, up to a few thousand elements (:data:`SIZES`), for :data:`STEPS`
steps, and each step is compared with the from-definition reference
(reference_models.references.optimizers) at the tolerance derived in blitzbench.measure.tolerances
(``optimizer_step_tolerance``). A variant a release does not offer (no ``fused`` for that
optimizer, dtype or device) is skipped with the error torch gives.

Then: a run interrupted by saving ``state_dict()`` and loading it into a new optimizer continues
exactly as the uninterrupted run; the chapter's network trained with each implementation; the
chapter's hand-written update equals plain SGD.
"""

import io
import itertools

import pytest
import torch
import torch.nn.functional as F

from blitzbench.measure.batches import class_targets, images, seeded_model
from blitzbench.measure.tolerances import (assert_close, assert_within, float32_bias_correction_error,
                                          optimizer_step_tolerance)
from blitzbench.variants import FLOATS, REDUCED
from reference_models.references.optimizers import ReferenceAdam, ReferenceAdamW, ReferenceSGD

STEPS = 5
IMPLEMENTATIONS = {
    "for_loop": {"foreach": False},
    "foreach": {"foreach": True},
    "fused": {"fused": True},
    "differentiable": {"foreach": False, "differentiable": True},
}
# One parameter tensor of each size, in one optimizer: around 8, 16, 32 and 64 elements (a vector of
# float64 / float32 / 16-bit values in AVX-512, and unrolled blocks of them), odd sizes, a few
# thousand, and a weight matrix.
SIZES = (1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 4099,
         (37, 29))
# (torch class, reference class, the tolerance's operation count: blitzbench.measure.tolerances)
OPTIMIZERS = {"sgd": (torch.optim.SGD, ReferenceSGD, "sgd"),
              "adam": (torch.optim.Adam, ReferenceAdam, "adam"),
              "adamw": (torch.optim.AdamW, ReferenceAdamW, "adam")}


def _name(config: dict) -> str:
    return "-".join(f"{k}{v}" if not isinstance(v, bool) else (k if v else f"no_{k}")
                    for k, v in config.items() if k != "lr")


def _configs():
    """(optimizer, options) pairs: every combination of the options, then the edge settings."""
    for momentum, dampening, nesterov, weight_decay, maximize in itertools.product(
            [0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.01], [False, True]):
        if nesterov and (momentum == 0 or dampening != 0):
            continue  # torch.optim.SGD rejects Nesterov without momentum or with dampening
        yield "sgd", dict(lr=0.05, momentum=momentum, dampening=dampening, nesterov=nesterov,
                          weight_decay=weight_decay, maximize=maximize)
    for optimizer, decays in (("adam", [0.0, 0.01]), ("adamw", [0.0, 0.1])):
        for amsgrad, weight_decay, maximize in itertools.product([False, True], decays, [False, True]):
            yield optimizer, dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=weight_decay,
                                  amsgrad=amsgrad, maximize=maximize)


# Edge settings: a learning rate of 0 (nothing may move, weight decay included), a learning rate
# given as a Tensor, eps far above and far below the gradients' scale, betas near 1.
EDGES = {
    "sgd": {"lr0": dict(lr=0.0, momentum=0.9, weight_decay=0.01),
            "lr_tensor": dict(lr=0.05, momentum=0.9, nesterov=True, tensor_lr=True)},
    "adam": {"lr0": dict(lr=0.0, weight_decay=0.01),
             "lr_tensor": dict(lr=0.01, amsgrad=True, tensor_lr=True),
             "eps_large": dict(lr=0.01, eps=10.0),
             "eps_tiny": dict(lr=0.01, eps=1e-30),
             "betas_near_1": dict(lr=0.01, betas=(0.999, 0.9999), amsgrad=True)},
}
EDGES["adamw"] = {name: dict(config, weight_decay=0.1) for name, config in EDGES["adam"].items()}


# A 16-bit parameter near 1 has a last place of 2^-7 (bfloat16) or 2^-10 (float16): an Adam update of
# about lr spans little more than one of them at lr 0.01, too few to tell a wrong update from
# rounding; 16-bit parameters take Adam and AdamW steps at lr 0.1 (SGD's updates are larger already).
SIXTEEN_BIT_ADAM_LR = 0.1


def _for_dtype(optimizer, config, dtype):
    """The case's options for parameters of ``dtype``: Adam's learning rate raised for 16-bit ones."""
    if dtype in REDUCED and optimizer != "sgd" and config["lr"] != 0:
        return dict(config, lr=SIXTEEN_BIT_ADAM_LR)
    return config


def _cases():
    for optimizer, config in _configs():
        yield pytest.param(optimizer, config, id=f"{optimizer}-{_name(config)}")
    for optimizer, edges in EDGES.items():
        for name, config in edges.items():
            yield pytest.param(optimizer, config, id=f"{optimizer}-{name}")


def _parameters(dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(size, generator=g, dtype=torch.float64).to(device, dtype) for size in SIZES]


def _gradients(params, step):
    """Gradients of magnitude 1 to 2 with random signs: every state entry stays a normal number of
    the dtype (float16's smallest is 6e-5; (1 - 0.9999) g^2 >= 1e-4), so the relative error bound
    of the tolerance holds, and no entry is a lucky zero."""
    g = torch.Generator().manual_seed(1000 + step)
    grads = []
    for p in params:
        magnitude = 1 + torch.rand(p.shape, generator=g, dtype=torch.float64)
        sign = torch.where(torch.rand(p.shape, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
        grads.append((sign * magnitude).to(p.device, p.dtype))
    return grads


def _build(optimizer, config, implementation, params, dtype):
    """The torch optimizer for this variant, or a skip with torch's words where it is not offered."""
    torch_class = OPTIMIZERS[optimizer][0]
    options = {k: v for k, v in config.items() if k != "tensor_lr"}
    if config.get("tensor_lr"):
        # float64 parameters get a float64 learning rate: quantities torch derives from it (lr over the
        # bias correction) are computed in its dtype, and float32's rounding would exceed float64's.
        options["lr"] = torch.tensor(options["lr"], dtype=torch.float64 if dtype == torch.float64 else torch.float32)
    options.update(IMPLEMENTATIONS[implementation])
    try:
        return torch_class(params, **options), options["lr"]
    except (TypeError, ValueError, RuntimeError) as error:
        if implementation not in ("fused", "differentiable") and not config.get("tensor_lr"):
            raise  # the loop and foreach take every option: refusing one is a failure, not a variant missing
        pytest.skip(f"torch {torch.__version__} offers no {torch_class.__name__}({implementation}) with these "
                    f"options for {dtype} on {params[0].device.type}: {error}")


def _step(optimizer, first):
    try:
        optimizer.step()
    except (RuntimeError, NotImplementedError) as error:
        if first and ("not implemented" in str(error) or "not supported" in str(error)):
            pytest.skip(f"torch {torch.__version__}'s {type(optimizer).__name__} step does not run here: {error}")
        raise


def _flat(tensors):
    return torch.cat([t.detach().to("cpu", torch.float64).flatten() for t in tensors])


def _locator(params):
    """Flat index over all parameters -> "parameter i of shape S, element j"."""
    ends = list(itertools.accumulate(p.numel() for p in params))

    def locate(index):
        i = next(k for k, end in enumerate(ends) if index < end)
        return f"parameter {i} of shape {tuple(params[i].shape)}, element {index - (ends[i] - params[i].numel())}"
    return locate


def _tolerance_options(optimizer, config, implementation, step):
    """How many times torch rounds the parameter itself, and the error of a float32 step counter
    (blitzbench.measure.tolerances, module docstring)."""
    roundings = 3 if optimizer == "adamw" and config.get("weight_decay", 0.01) != 0 else 1
    counter = 0.0
    if implementation == "differentiable" and optimizer != "sgd":
        counter = float32_bias_correction_error(config.get("betas", (0.9, 0.999)), step)
    return dict(parameter_roundings=roundings, relative_update_error=counter)


@pytest.mark.parametrize("dtype", FLOATS.values(), ids=FLOATS.keys())
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("optimizer,config", list(_cases()))
def test_step_equals_update_equations(optimizer, config, implementation, dtype, device):
    config = _for_dtype(optimizer, config, dtype)
    start = _parameters(dtype, device)
    if implementation == "differentiable":
        # The differentiable path updates tensors inside an autograd graph: non-leaf parameters.
        leaves = [p.clone().requires_grad_() for p in start]
        params = [leaf.clone() for leaf in leaves]
    else:
        params = [p.clone() for p in start]
    torch_optimizer, lr = _build(optimizer, config, implementation, params, dtype)
    options = {k: v for k, v in config.items() if k != "tensor_lr"}
    # The reference is elementwise: it runs on all parameters at once, as one float64 vector.
    reference = OPTIMIZERS[optimizer][1]([_flat(start)], **dict(options, lr=float(lr)))
    family, locate = OPTIMIZERS[optimizer][2], _locator(params)
    for step in range(1, STEPS + 1):
        grads = _gradients(params, step)
        before = _flat(params)
        for p, g in zip(params, grads):
            p.grad = g.clone()  # a step may work in the gradient's memory (foreach SGD's Nesterov does)
        _step(torch_optimizer, step == 1)
        (expected,) = reference.step([_flat(grads)], params=[before])
        tolerance = optimizer_step_tolerance(dtype, expected, reference.bounds[0], family, step,
                                             **_tolerance_options(optimizer, config, implementation, step))
        assert_within(_flat(params), expected, tolerance, msg=f"step {step}", locate=locate)
    if float(lr) == 0:
        assert all(torch.equal(p.detach(), q) for p, q in zip(params, start)), "lr 0 moved a parameter"
    else:
        assert not all(torch.equal(p.detach(), q) for p, q in zip(params, start)), "no parameter moved"
    if implementation == "differentiable":
        assert all(p.grad_fn is not None for p in params), "the differentiable step left the autograd graph"


STATE_CASES = {"sgd": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
               "adam": dict(lr=0.01, amsgrad=True, weight_decay=0.01),
               "adamw": dict(lr=0.01, amsgrad=True, weight_decay=0.1)}


def _run(optimizer, params, config, implementation, dtype, steps, state=None):
    torch_optimizer, _ = _build(optimizer, config, implementation, params, dtype)
    if state is not None:
        torch_optimizer.load_state_dict(state)
    for step in steps:
        for p, g in zip(params, _gradients(params, step)):
            p.grad = g
        _step(torch_optimizer, step == 1)
    return torch_optimizer


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("implementation", [i for i in IMPLEMENTATIONS if i != "differentiable"])
@pytest.mark.parametrize("optimizer", STATE_CASES)
def test_saved_state_continues_the_run_exactly(optimizer, implementation, dtype, device):
    # state_dict() written with torch.save and read back into a new optimizer over the same values:
    # the next steps compute what the uninterrupted run computes, to the bit.
    config = STATE_CASES[optimizer]
    uninterrupted = _parameters(dtype, device)
    _run(optimizer, uninterrupted, config, implementation, dtype, range(1, 7))
    first_half = _parameters(dtype, device)
    saved = io.BytesIO()
    torch.save(_run(optimizer, first_half, config, implementation, dtype, range(1, 4)).state_dict(), saved)
    saved.seek(0)
    resumed = [p.clone() for p in first_half]
    _run(optimizer, resumed, config, implementation, dtype, range(4, 7), state=torch.load(saved))
    for i, (p, q) in enumerate(zip(resumed, uninterrupted)):
        assert torch.equal(p, q), f"parameter {i}: resumed run differs by up to {(p - q).abs().max().item():.3g}"


@pytest.mark.parametrize("implementation", [i for i in IMPLEMENTATIONS if i != "differentiable"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_training_the_chapters_network(optimizer, implementation, device):
    # The chapter's network, its loss and real backprop gradients, float32: each implementation's
    # parameters after 3 steps agree with the reference fed the same gradients. (The differentiable
    # path needs non-leaf parameters, which a module's are not; it is checked on plain tensors above.)
    net = seeded_model("chapter_net", device, torch.float32)
    params = list(net.parameters())
    config = STATE_CASES[optimizer]
    torch_optimizer, lr = _build(optimizer, config, implementation, params, torch.float32)
    reference = OPTIMIZERS[optimizer][1]([p.detach().double() for p in params], **config)
    for step in range(1, 4):
        torch_optimizer.zero_grad()
        F.cross_entropy(net(images("chapter_net", 8, device, seed=step)),
                        class_targets("chapter_net", 8, device, seed=step)).backward()
        grads = [p.grad.detach().double() for p in params]
        before = [p.detach().clone() for p in params]
        _step(torch_optimizer, step == 1)
        expected = reference.step(grads, params=before)
        for (name, p), e, bound in zip(net.named_parameters(), expected, reference.bounds):
            tolerance = optimizer_step_tolerance(torch.float32, e, bound, OPTIMIZERS[optimizer][2], step,
                                                 **_tolerance_options(optimizer, config, implementation, step))
            assert_within(p, e, tolerance, msg=f"step {step}, {name}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=["float32", "bfloat16", "float16"])
def test_the_bound_catches_planted_errors(dtype):
    # Adam's first step (for_loop, CPU), where every element moves by about lr, passes; the same step
    # with its sign flipped, with m's bias correction left out, or with one vector tail's element
    # (the 17th of 17) moved half as far fails.
    config = _for_dtype("adam", dict(lr=0.01, betas=(0.9, 0.99)), dtype)
    params = _parameters(dtype, "cpu")
    torch_optimizer, _ = _build("adam", config, "for_loop", params, dtype)
    reference = ReferenceAdam([_flat(params)], **config)
    grads = _gradients(params, 1)
    before = _flat(params)
    for p, g in zip(params, grads):
        p.grad = g.clone()
    torch_optimizer.step()
    (expected,) = reference.step([_flat(grads)], params=[before])
    tolerance = optimizer_step_tolerance(dtype, expected, reference.bounds[0], "adam", 1)
    assert_within(_flat(params), expected, tolerance, msg="torch's own step")
    update = expected - before
    tail = sum(p.numel() for p in params[:SIZES.index(17) + 1]) - 1
    half_tail = expected.clone()
    half_tail[tail] = before[tail] + update[tail] / 2
    planted = {"sign flipped": before - update, "m not bias-corrected": before + update * (1 - 0.9),
               "a tail element moved half as far": half_tail}
    for name, wrong in planted.items():
        stored = wrong.to(dtype).double()  # what a parameter of this dtype would hold
        with pytest.raises(AssertionError):
            assert_within(stored, expected, tolerance, msg=name)


def test_chapters_manual_update_equals_plain_sgd(device):
    # The tutorial's hand-written step: for f in net.parameters(): f.data.sub_(f.grad.data * lr)
    lr = 0.01
    manual = seeded_model("chapter_net", device, torch.float64)
    with_optim = seeded_model("chapter_net", device, torch.float64)
    optimizer = torch.optim.SGD(with_optim.parameters(), lr=lr)
    for step in range(3):
        x = images("chapter_net", 4, device, torch.float64, seed=step)
        target = class_targets("chapter_net", 4, device, seed=step)
        manual.zero_grad()
        F.cross_entropy(manual(x), target).backward()
        for f in manual.parameters():
            f.data.sub_(f.grad.data * lr)
        optimizer.zero_grad()
        F.cross_entropy(with_optim(x), target).backward()
        optimizer.step()
        for (name, p), q in zip(manual.named_parameters(), with_optim.parameters()):
            assert_close(p, q, msg=f"step {step + 1}, {name}")
