"""Training on real images converges (the chapter's sections 8 and 10).

Marked ``convergence``: ``pytest -m convergence`` runs only these, ``-m "not convergence"`` leaves
them out. Thresholds are the suite's targets (docs/training.md: 95% on mnist5k and 93% on digits
within 10 epochs in at least 2 of 3 seeds, the fast loop; 50% on CIFAR-10 after 2 epochs of the
tutorial loop, which the tutorial reports at about 54%).
"""

import pytest

from reference_models import data
from reference_models.train import TrainConfig, train

pytestmark = pytest.mark.convergence
SEEDS = (0, 1, 2)
_runs = {}


def fast_run(model, dataset, seed, device, epochs=10):
    """One fast-loop run, shared by the tests that read it (each trains once per pytest run)."""
    key = (model, dataset, seed, device, epochs)
    if key not in _runs:
        _runs[key] = train(TrainConfig(model=model, dataset=dataset, epochs=epochs, seed=seed, device=device,
                                       loop="fast"))
    return _runs[key]


@pytest.mark.parametrize("model", ["chapter_net", "lenet"])
def test_mnist5k_reaches_95_percent_in_2_of_3_seeds(model, device):
    accuracies = [fast_run(model, "mnist5k", seed, device).test_accuracy for seed in SEEDS]
    assert sum(a >= 0.95 for a in accuracies) >= 2, f"test accuracy per seed: {accuracies}"


@pytest.mark.parametrize("model", ["chapter_net", "lenet"])
def test_mnist5k_loss_falls_across_epochs(model, device):
    for seed in SEEDS:
        losses = [e.train_loss for e in fast_run(model, "mnist5k", seed, device).history]
        assert len(losses) == 10
        # Falls overall (the last epoch's loss is a small fraction of the first's), and no
        # epoch after the third climbs back above the first three's level.
        assert losses[-1] < losses[0] / 4, losses
        assert max(losses[3:]) < min(losses[:3]), losses


def test_digits_reaches_93_percent_in_2_of_3_seeds(device):
    accuracies = [fast_run("chapter_net", "digits", seed, device).test_accuracy for seed in SEEDS]
    assert sum(a >= 0.93 for a in accuracies) >= 2, f"test accuracy per seed: {accuracies}"


@pytest.mark.parametrize("loop", ["fast", "tutorial"])
def test_same_seed_gives_the_same_losses_on_cpu(loop):
    def losses():
        config = TrainConfig(model="chapter_net", dataset="digits", epochs=2, seed=7, device="cpu", loop=loop,
                             augment=True)
        return [e.train_loss for e in train(config).history]

    first, second = losses(), losses()
    assert first == second
    other = train(TrainConfig(model="chapter_net", dataset="digits", epochs=2, seed=8, device="cpu", loop=loop,
                              augment=True)).history
    assert [e.train_loss for e in other] != first  # the seed matters: the check above can fail


def test_cifar_net_on_cifar10_tutorial_loop_reaches_50_percent_in_2_epochs(device, request):
    root = request.config.getoption("--data-root")
    reason = data.missing_files("cifar10", root)
    if reason:
        pytest.skip(reason)
    result = train(TrainConfig(model="cifar_net", dataset="cifar10", epochs=2, loop="tutorial", device=device,
                               data_root=root))
    assert result.test_accuracy >= 0.50, [e.test_accuracy for e in result.history]
