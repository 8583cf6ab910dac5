"""A run with no flags is ratsnlp's NSMC recipe, so book readers get the numbers they know."""

from nsmc_trainer.cli import parse_args


def test_no_flags_give_the_ratsnlp_recipe():
    model_args, data_args, training_args = parse_args([])

    assert model_args.model_name_or_path == "beomi/kcbert-base"
    assert data_args.max_seq_length == 128
    assert training_args.learning_rate == 5e-5
    assert training_args.per_device_train_batch_size == 32
    assert training_args.num_train_epochs == 3
    assert training_args.seed == 7
    assert training_args.lr_decay_gamma == 0.9
    assert training_args.weight_decay == 0.01
    # Lightning's Trainer, which ratsnlp used, does not clip gradients; HF Trainer would clip at 1.0.
    assert training_args.max_grad_norm == 0.0
    assert training_args.metric_for_best_model == "eval_loss"
    assert training_args.load_best_model_at_end


def test_trainers_gradient_clipping_is_one_flag_away():
    _, _, training_args = parse_args(["--max_grad_norm", "1.0"])
    assert training_args.max_grad_norm == 1.0


def test_resume_from_checkpoint_true_in_a_yaml_args_file_means_the_last_checkpoint(tmp_path):
    args_file = tmp_path / "args.yaml"
    args_file.write_text("output_dir: out\nresume_from_checkpoint: true\n", encoding="utf-8")
    _, _, training_args = parse_args([str(args_file)])
    assert training_args.resume_from_checkpoint == "last"


def test_resume_from_checkpoint_false_in_a_json_args_file_starts_fresh(tmp_path):
    args_file = tmp_path / "args.json"
    args_file.write_text('{"output_dir": "out", "resume_from_checkpoint": false}', encoding="utf-8")
    _, _, training_args = parse_args([str(args_file)])
    assert training_args.resume_from_checkpoint is None
