"""An upgrade of transformers or datasets that removes or reshapes a private API we use fails here,
naming it, instead of silently changing a user's run."""

import inspect

import datasets
import pytest
from transformers import Trainer

from nsmc_trainer.internals import PRIVATE_APIS
from nsmc_trainer.trainer import NsmcTrainer


@pytest.mark.parametrize("api", PRIVATE_APIS, ids=lambda api: f"{api.owner.__name__}.{api.name}")
def test_each_private_api_we_use_still_exists_with_our_parameters(api):
    if not api.parameters:
        instance = datasets.Dataset.from_dict({"x": [1]})
        assert isinstance(getattr(instance, api.name), str), api.why
        return
    method = getattr(api.owner, api.name, None)
    assert method is not None, f"{api.owner.__name__}.{api.name} is gone; it was used for {api.why}"
    parameters = tuple(inspect.signature(method).parameters)
    assert parameters[: len(api.parameters)] == api.parameters, f"{api.name}{parameters}: used for {api.why}"


def test_every_private_method_we_override_is_listed():
    listed = {api.name for api in PRIVATE_APIS if api.owner is Trainer}
    overridden = {
        name
        for klass in NsmcTrainer.__mro__
        if klass.__module__.startswith("nsmc_trainer")
        for name in vars(klass)
        if name.startswith("_") and not name.startswith("__") and hasattr(Trainer, name)
    }
    assert overridden <= listed


def test_set_initial_training_values_still_returns_the_steps_per_epoch_second():
    annotation = inspect.signature(Trainer.set_initial_training_values).return_annotation
    assert "tuple" in str(annotation)
    source = inspect.getsource(Trainer.set_initial_training_values)
    assert "num_update_steps_per_epoch" in source.split("return", 1)[1].split(",")[1]


def test_evaluation_loop_still_gathers_through_the_replaceable_gather_function():
    source = inspect.getsource(Trainer.evaluation_loop)
    assert "self.gather_function(logits)" in source
    assert "self.gather_function = self.accelerator.gather_for_metrics" in source
