"""An upgrade of transformers or datasets that removes or reshapes a private API we use fails here,
naming it, instead of silently changing a user's run."""

import inspect

import datasets
import pytest
import torch
from transformers import AutoModelForSequenceClassification, Trainer, masking_utils

from nsmc_trainer.internals import PRIVATE_APIS
from nsmc_trainer.trainer import NsmcTrainer, use_sdpa_with_mask


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


def test_sdpa_with_mask_never_reads_the_mask_and_computes_what_sdpa_does(tiny_model_dir, monkeypatch):
    """`sdpa_mask` swallows flags it does not know: a renamed skip flag would bring the host read back on XLA."""
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2).eval()
    input_ids = torch.randint(5, 1000, (2, 8), generator=torch.Generator().manual_seed(0))
    unpadded = torch.ones_like(input_ids)
    padded = unpadded.clone()
    padded[0, 5:] = 0
    expected = [model(input_ids=input_ids, attention_mask=mask).logits for mask in (padded, unpadded)]

    def read_on_the_host(*args, **kwargs):
        raise AssertionError("the padding mask was read to decide whether to skip it")

    use_sdpa_with_mask(model)
    monkeypatch.setattr(masking_utils, "_ignore_bidirectional_mask_sdpa", read_on_the_host)
    monkeypatch.setattr(masking_utils, "_ignore_causal_mask_sdpa", read_on_the_host)
    for mask, logits in zip((padded, unpadded), expected):
        torch.testing.assert_close(model(input_ids=input_ids, attention_mask=mask).logits, logits)
