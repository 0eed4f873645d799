import torch
from torch.optim.swa_utils import AveragedModel

from mnist_design.training.callbacks import StochasticWeightAverage


def test_swa_follows_the_live_weights_then_averages_the_last_steps() -> None:
    swa = StochasticWeightAverage(fraction=0.5)
    swa.first_step = 2  # as setup() computes for 4 steps
    model = torch.nn.Linear(1, 1, bias=False)
    averaged = AveragedModel(model, avg_fn=swa.average)
    seen = []
    for weight in [1.0, 2.0, 4.0, 8.0]:
        model.weight.data.fill_(weight)
        averaged.update_parameters(model)
        seen.append(averaged.module.weight.item())
    assert seen == [1.0, 2.0, 4.0, 6.0]  # live weights until step 2, then the mean of steps 2 and 3
