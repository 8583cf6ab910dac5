"""ratsnlp's optimizer and learning-rate schedule: AdamW, then lr x gamma after every epoch.

Lightning steps an `interval="epoch"` scheduler once per epoch, but HF Trainer calls
`lr_scheduler.step()` after every optimizer step, so a plain `ExponentialLR(0.9)` would decay the
learning rate ~4,700 times per NSMC epoch. `PerEpochExponentialLR` counts those calls and
decays only when a whole epoch of optimizer steps has gone by.
"""

import torch
from torch.optim import AdamW, Optimizer
from torch.optim.lr_scheduler import ExponentialLR


class PerEpochExponentialLR(ExponentialLR):
    """ExponentialLR whose exponent is the epoch (`steps // steps_per_epoch`), not the step.

    Its state (step count, steps per epoch) is in `state_dict()`, so Trainer checkpoints resume it.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, steps_per_epoch: int, last_epoch: int = -1):
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be at least 1, got {steps_per_epoch}")
        self.steps_per_epoch = steps_per_epoch
        super().__init__(optimizer, gamma, last_epoch)

    def get_lr(self) -> list[float]:
        epoch = self.last_epoch // self.steps_per_epoch
        return [base_lr * self.gamma**epoch for base_lr in self.base_lrs]


def create_optimizer(model: torch.nn.Module, learning_rate: float, weight_decay: float, device_type: str) -> AdamW:
    """AdamW over all weights, as ratsnlp's `configure_optimizers` builds it.

    The fused kernel is asked for on CUDA and the CPU: on the CPU it updates the tiny model's
    30K x 128 embedding in 6.5 ms a step where the default for-loop takes 55 ms (BENCHMARKS.md).
    XLA rejects it, so there the default implementation is kept.
    """
    return AdamW(
        model.parameters(),
        lr=learning_rate,
        weight_decay=weight_decay,
        fused=True if device_type in ("cuda", "cpu") else None,
    )
