"""`nsmc-train` / `run_nsmc.py`: parse flags (or a JSON/YAML file of them) and train."""

import sys

from transformers import HfArgumentParser

from .config import DataArguments, ModelArguments, NsmcTrainingArguments
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
    model_args, data_args, training_args = parse_args(argv)
    train(model_args, data_args, training_args)


if __name__ == "__main__":
    main()
