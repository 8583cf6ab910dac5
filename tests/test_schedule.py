"""ratsnlp's ExponentialLR(0.9) decays once per epoch even though Trainer steps it every batch."""

import pytest
import torch

from nsmc_trainer.schedule import create_optimizer, per_epoch_decay


def lrs_over(steps: int, steps_per_epoch: int) -> list[float]:
    optimizer = create_optimizer(torch.nn.Linear(2, 2), learning_rate=1e-3, weight_decay=0.01, device_type="cpu")
    scheduler = per_epoch_decay(optimizer, gamma=0.9, steps_per_epoch=steps_per_epoch)
    used = []
    for _ in range(steps):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return used


def test_every_step_of_epoch_k_runs_at_lr_times_gamma_to_the_k():
    used = lrs_over(steps=12, steps_per_epoch=4)
    assert used == pytest.approx([1e-3] * 4 + [9e-4] * 4 + [8.1e-4] * 4)


def test_state_dict_resumes_the_same_schedule():
    """Trainer's checkpoint restores the optimizer's state and the schedule's, as here."""
    optimizer = create_optimizer(torch.nn.Linear(2, 2), learning_rate=1e-3, weight_decay=0.0, device_type="cpu")
    scheduler = per_epoch_decay(optimizer, gamma=0.9, steps_per_epoch=3)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    resumed_optimizer = create_optimizer(torch.nn.Linear(2, 2), learning_rate=1e-3, weight_decay=0.0, device_type="cpu")
    resumed = per_epoch_decay(resumed_optimizer, gamma=0.9, steps_per_epoch=3)
    resumed_optimizer.load_state_dict(optimizer.state_dict())
    resumed.load_state_dict(scheduler.state_dict())
    resumed_optimizer.step()
    resumed.step()
    assert resumed.get_last_lr() == pytest.approx([8.1e-4])


def test_the_cpu_gets_the_fused_adamw_and_it_takes_the_same_steps_as_the_reference():
    torch.manual_seed(7)
    fused_model, reference_model = torch.nn.Linear(8, 2), torch.nn.Linear(8, 2)
    reference_model.load_state_dict(fused_model.state_dict())
    fused = create_optimizer(fused_model, learning_rate=1e-2, weight_decay=0.01, device_type="cpu")
    reference = torch.optim.AdamW(reference_model.parameters(), lr=1e-2, weight_decay=0.01)
    assert fused.defaults["fused"] is True
    inputs = torch.randn(4, 16, 8)
    for batch in inputs:
        for model, optimizer in ((fused_model, fused), (reference_model, reference)):
            optimizer.zero_grad()
            model(batch).square().mean().backward()
            optimizer.step()
    for got, expected in zip(fused_model.parameters(), reference_model.parameters()):
        torch.testing.assert_close(got, expected)


def test_xla_keeps_the_default_adamw_because_it_rejects_the_fused_kernel():
    optimizer = create_optimizer(torch.nn.Linear(2, 2), learning_rate=1e-3, weight_decay=0.01, device_type="xla")
    assert not optimizer.defaults["fused"]
