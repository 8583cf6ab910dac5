"""ratsnlp's optimizer and learning-rate schedule: AdamW, then lr x gamma after every epoch."""

import torch
from torch.optim import AdamW, Optimizer
from torch.optim.lr_scheduler import StepLR


def per_epoch_decay(optimizer: Optimizer, gamma: float, steps_per_epoch: int) -> StepLR:
    """ratsnlp's per-epoch ExponentialLR, for a Trainer that steps the schedule after every
    optimizer step: the learning rate drops by `gamma` once a whole epoch of steps has gone by."""
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be at least 1, got {steps_per_epoch}")
    return StepLR(optimizer, step_size=steps_per_epoch, gamma=gamma)


def describe_schedule(gamma: float) -> str:
    """The schedule in words, for the model card."""
    return f"ExponentialLR gamma {gamma} per epoch" + (", i.e. constant" if gamma == 1.0 else "")


def create_optimizer(model: torch.nn.Module, learning_rate: float, weight_decay: float, device_type: str) -> AdamW:
    """AdamW over all weights, as ratsnlp's `configure_optimizers` builds it; the fused kernel
    where it exists (CUDA, CPU), as it is much faster (BENCHMARKS.md) and XLA rejects it."""
    return AdamW(
        model.parameters(),
        lr=learning_rate,
        weight_decay=weight_decay,
        fused=True if device_type in ("cuda", "cpu") else None,
    )
