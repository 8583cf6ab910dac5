"""The flags, as dataclasses with the ratsnlp NSMC recipe as defaults, and the constants they share.

Flag names follow transformers' `examples/pytorch/text-classification/run_classification.py`.
"""

import importlib.util
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments

NSMC_LABELS = ("negative", "positive")
ID_COLUMN = "id"
TEXT_COLUMN = "document"
LABEL_COLUMN = "label"
MAX_SEQ_LENGTH = 128
# `--resume_from_checkpoint` without a path, and `resume_from_checkpoint: true` in an args file.
RESUME_LAST = "last"
# Every command exits with this status on an error it explains (argparse's usage errors stay 2).
EXIT_ERROR = 1

# Trainer writes TensorBoard logs only when asked; ask whenever tensorboard is installed.
DEFAULT_REPORT_TO = "tensorboard" if importlib.util.find_spec("tensorboard") else "none"


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        default="beomi/kcbert-base",
        metadata={"help": "Hub model id or local directory of the pretrained model and its tokenizer."},
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer to use when it differs from --model_name_or_path."}
    )
    cache_dir: str | None = field(
        default=None, metadata={"help": "Where downloaded models are cached (default: the Hugging Face cache)."}
    )
    model_revision: str = field(default="main", metadata={"help": "Branch, tag or commit of the Hub model."})
    token: str | None = field(
        default=None, metadata={"help": "Hub token for private models (default: HF_TOKEN or `hf auth login`)."}
    )


@dataclass
class DataArguments:
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "Directory holding NSMC's ratings_train.txt and ratings_test.txt; "
            "without it NSMC is downloaded into --nsmc_cache_dir."
        },
    )
    nsmc_cache_dir: str | None = field(
        default=None, metadata={"help": "Where NSMC is downloaded (default: $NSMC_CACHE_DIR or ~/Korpora/nsmc)."}
    )
    nsmc_base_url: str | None = field(
        default=None,
        metadata={"help": "Mirror to download NSMC from (default: $NSMC_BASE_URL or the e9t/nsmc repository)."},
    )
    train_file: str | None = field(
        default=None,
        metadata={"help": "Your own training data (.tsv/.txt, .csv or .jsonl); replaces NSMC and --data_dir."},
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "Labelled data evaluated after every epoch (default: the test file)."}
    )
    test_file: str | None = field(
        default=None,
        metadata={
            "help": "Test data; without a label column it is prediction-only and its predictions are written "
            "to <output_dir>/predictions.tsv."
        },
    )
    text_column_name: str = field(default=TEXT_COLUMN, metadata={"help": "Column (or JSON key) holding the text."})
    label_column_name: str = field(default=LABEL_COLUMN, metadata={"help": "Column (or JSON key) holding the label."})
    class_names: str | None = field(
        default=None,
        metadata={
            "help": "Comma-separated label names in class-id order, e.g. 'negative,positive' "
            "(default: the training file's distinct labels, sorted; NSMC: negative,positive)."
        },
    )
    max_seq_length: int = field(
        default=MAX_SEQ_LENGTH, metadata={"help": "Reviews longer than this many tokens are truncated."}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Train on the first N training examples only (for quick runs)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Evaluate on the first N evaluation examples only."}
    )
    features_cache_dir: str | None = field(
        default=None,
        metadata={
            "help": "Where the parsed corpus and the tokenized features are cached "
            "(default: <HF datasets cache>/nsmc_trainer)."
        },
    )
    overwrite_cache: bool = field(
        default=False, metadata={"help": "Read and tokenize the data again even if a cached copy matches."}
    )
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "Number of processes for tokenization."}
    )
    pad_to_max_length: bool = field(
        default=False,
        metadata={
            "help": "Pad every example to --max_seq_length as ratsnlp did (slower); "
            "by default each batch is padded to its own longest example."
        },
    )


@dataclass
class NsmcTrainingArguments(TrainingArguments):
    """TrainingArguments whose defaults reproduce the ratsnlp NSMC run.

    Evaluation and saving happen once per epoch and the checkpoint with the lowest eval_loss is
    the final model, as with Lightning's ModelCheckpoint(monitor="val_loss", save_top_k=1).
    """

    output_dir: str | None = field(
        default="nsmc-output", metadata={"help": "Where checkpoints, the final model and results are written."}
    )
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Batch size per device for training."})
    per_device_eval_batch_size: int = field(default=32, metadata={"help": "Batch size per device for evaluation."})
    seed: int = field(default=7, metadata={"help": "Random seed set before the model is created."})
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW weight decay (torch's default, which ratsnlp used)."}
    )
    max_grad_norm: float = field(
        default=0.0,
        metadata={
            "help": "Clip gradients to this norm; 0 (the default) does not clip, as ratsnlp's Lightning Trainer "
            "did not. Trainer's own default is 1.0."
        },
    )
    lr_decay_gamma: float = field(
        default=0.9, metadata={"help": "The learning rate is multiplied by this factor after every epoch."}
    )
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate: 'no', 'steps' or 'epoch'."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save a checkpoint."})
    logging_strategy: str = field(default="steps", metadata={"help": "When to log."})
    logging_steps: float = field(default=100, metadata={"help": "Log every N optimizer steps."})
    save_total_limit: int | None = field(
        default=1,
        metadata={
            "help": "How many checkpoints to keep; the best one, and while training the latest one (to resume "
            "from), are always kept."
        },
    )
    load_best_model_at_end: bool = field(
        default=True, metadata={"help": "Finish with the checkpoint that had the best metric_for_best_model."}
    )
    metric_for_best_model: str | None = field(default="eval_loss", metadata={"help": "Metric that picks the best."})
    greater_is_better: bool | None = field(default=False, metadata={"help": "Whether a larger metric is better."})
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata={
            "help": "'group_by_length' (default) batches reviews of similar length so little is spent on padding; "
            "'random' is ratsnlp's order.",
            "choices": ["random", "sequential", "group_by_length", "batch_rebalance"],
        },
    )
    average_tokens_across_devices: bool = field(
        default=False,
        metadata={
            "help": "Keep False: BERT's classification loss is already a per-batch mean, and True scales the "
            "logged loss by the number of processes."
        },
    )
    ddp_find_unused_parameters: bool | None = field(
        default=False,
        metadata={
            "help": "Every weight of a sequence classifier gets a gradient, so DDP need not search for unused "
            "ones (Trainer's default True costs an extra pass over the graph every step)."
        },
    )
    report_to: None | str | list[str] = field(
        default=DEFAULT_REPORT_TO,
        metadata={"help": "Where to report logs ('tensorboard' when it is installed, else 'none')."},
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Start over in an --output_dir that holds a finished model or an unfinished run: its model "
            "and checkpoints are deleted first. Without it a finished model is never overwritten, and an "
            "unfinished run is resumed."
        },
    )
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={
            "help": "Resume from this checkpoint-N directory; the flag alone resumes the last one in --output_dir "
            "(re-running a crashed command does that by itself).",
            "nargs": "?",
            "const": RESUME_LAST,
        },
    )
    resume_checkpoint_steps: int | None = field(
        default=None,
        metadata={
            "help": "Also save a checkpoint every N optimizer steps, without evaluating, so that a crash or a "
            "Colab disconnect loses at most N steps; only the latest one is kept besides the best."
        },
    )
    book_exact: bool = field(
        default=False,
        metadata={
            "help": "Train exactly as the book's runs did: a constant learning rate (ratsnlp's ExponentialLR was "
            "never attached), every review padded to --max_seq_length, random order, no gradient clipping. "
            "Overrides those flags."
        },
    )
    smoke_test: bool = field(
        default=False,
        metadata={
            "help": "Check the installation in under a minute, with no network and no files: train a tiny "
            "random BERT on a generated corpus for 2 epochs, evaluate, save, reload and predict. "
            "Other flags are ignored."
        },
    )

    def __post_init__(self) -> None:
        # An args file's `resume_from_checkpoint: true` means what the flag alone means.
        if isinstance(self.resume_from_checkpoint, bool) or self.resume_from_checkpoint == "true":
            self.resume_from_checkpoint = RESUME_LAST if self.resume_from_checkpoint else None
        super().__post_init__()


def apply_book_exact(data_args: DataArguments, training_args: NsmcTrainingArguments) -> None:
    """What ratsnlp really ran (README: "Differences from the book"), for `--book_exact`."""
    if training_args.book_exact:
        training_args.lr_decay_gamma = 1.0
        training_args.train_sampling_strategy = "random"
        training_args.max_grad_norm = 0.0
        data_args.pad_to_max_length = True


def apply_device_defaults(training_args: NsmcTrainingArguments) -> None:
    """Pinned memory only speeds up copies to an accelerator; without one, torch warns at every DataLoader."""
    if not torch.accelerator.is_available():
        training_args.dataloader_pin_memory = False
