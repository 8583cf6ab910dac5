"""`nsmc-train` / `run_nsmc.py`: parse flags (or a JSON/YAML file of them) and train."""

import sys

from transformers import HfArgumentParser

from .checkpoints import OutputDirError, TrainingInterrupted
from .config import DataArguments, ModelArguments, NsmcTrainingArguments
from .data import DataFileError
from .download import DownloadError
from .hub import PushError
from .smoke import run_smoke_test
from .train import train


def parse_args(argv: list[str] | None = None) -> tuple[ModelArguments, DataArguments, NsmcTrainingArguments]:
    """Accept `run_nsmc.py args.yaml` / `args.json` as transformers' example scripts do, or flags."""
    argv = sys.argv[1:] if argv is None else argv
    parser = HfArgumentParser((ModelArguments, DataArguments, NsmcTrainingArguments))
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(argv[0])
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        return parser.parse_yaml_file(argv[0])
    return parser.parse_args_into_dataclasses(args=argv)


def main(argv: list[str] | None = None) -> None:
    """Bad data ends the run with its one-paragraph message and exit status 1, not a traceback.

    Data is read before anything is written, so such a run leaves caches and outputs as they were.
    """
    model_args, data_args, training_args = parse_args(argv)
    if training_args.smoke_test:
        raise SystemExit(run_smoke_test())
    try:
        train(model_args, data_args, training_args)
    except (DataFileError, DownloadError, OutputDirError, PushError) as error:
        print(f"nsmc-train: error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    except TrainingInterrupted as interruption:
        print(f"nsmc-train: {interruption}", file=sys.stderr)
        raise SystemExit(interruption.exit_code) from None


if __name__ == "__main__":
    main()
