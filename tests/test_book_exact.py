"""`--book_exact` trains as the book's runs really did: ratsnlp's ExponentialLR was never attached
to Lightning, so the learning rate stayed at 5e-5; reviews padded to 128, in random order."""

import json

from conftest import NSMC_MINI, TINY_MODEL, require
from nsmc_trainer.cli import parse_args
from nsmc_trainer.train import train


def logged_learning_rates(output_dir) -> list[float]:
    state = json.loads((output_dir / "trainer_state.json").read_text(encoding="utf-8"))
    return [entry["learning_rate"] for entry in state["log_history"] if "learning_rate" in entry]


def test_book_exact_trains_two_epochs_at_a_constant_learning_rate_padded_to_128(tmp_path):
    require(NSMC_MINI)
    require(TINY_MODEL)
    argv = [
        "--model_name_or_path", str(TINY_MODEL), "--data_dir", str(NSMC_MINI), "--output_dir", str(tmp_path / "out"),
        "--features_cache_dir", str(tmp_path / "cache"), "--max_train_samples", "64", "--max_eval_samples", "32",
        "--num_train_epochs", "2", "--logging_steps", "1", "--report_to", "none", "--disable_tqdm", "true",
        "--book_exact",
    ]  # fmt: skip
    model_args, data_args, training_args = parse_args(argv)
    train(model_args, data_args, training_args)

    rates = logged_learning_rates(tmp_path / "out")
    assert len(rates) == 4  # 2 epochs of 2 steps
    assert rates == [5e-5] * 4
    assert data_args.pad_to_max_length and training_args.train_sampling_strategy == "random"
    assert training_args.max_grad_norm == 0.0


def test_without_it_the_learning_rate_drops_by_a_tenth_after_each_epoch():
    _, data_args, training_args = parse_args([])
    assert training_args.lr_decay_gamma == 0.9 and not training_args.book_exact
    assert not data_args.pad_to_max_length and training_args.train_sampling_strategy == "group_by_length"
