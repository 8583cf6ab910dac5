"""A Hugging Face Space running the web demo of serve.py against a pushed model:
`nsmc-serve --write_space DIR [--push_space USER/NAME]`."""

import shutil
from importlib.metadata import requires
from pathlib import Path

from huggingface_hub import HfApi

from .model import is_hub_id
from .serve import ServeError, import_gradio

SPACE_APP = '''"""The nsmc-trainer web demo of {model}, as written by `nsmc-serve --write_space`."""

import os
import sys

from nsmc_trainer.model import ModelLoadError
from nsmc_trainer.serve import ServeError, serve

MODEL = "{model}"
# A Space sets GRADIO_SERVER_NAME=0.0.0.0 and its port; run elsewhere, the demo stays on this machine.
HOST = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
PORT = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))

try:
    serve(MODEL, host=HOST, port=PORT)
except (ModelLoadError, ServeError) as error:
    sys.exit(f"app.py: error: {{error}}")
'''

CPU_TORCH_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"

SPACE_README = """\
---
title: NSMC sentiment demo
emoji: 🎬
colorFrom: blue
colorTo: green
sdk: gradio
sdk_version: {gradio_version}
app_file: app.py
pinned: false
models:
  - {model}
---

# {model} · 영화 리뷰 감성 분류

[{model}](https://huggingface.co/{model})로 한국어 영화 리뷰를 부정/긍정으로 분류하는 데모입니다.
A demo of [{model}](https://huggingface.co/{model}): type a Korean movie review, get negative or
positive with both probabilities. JSON API: `POST /api/classify` with `{{"text": "..."}}` or
`{{"texts": [...]}}`. Written by `nsmc-serve --write_space` of nsmc-trainer.
"""

def space_requirements() -> str:
    """This package's own dependencies, which its copy in the Space imports; torch as the CPU build,
    as a free Space has no GPU and the CUDA build is gigabytes."""
    core = [requirement for requirement in requires("nsmc-trainer") or [] if "extra ==" not in requirement]
    return "\n".join([CPU_TORCH_INDEX, *core]) + "\n"


def write_space(directory: Path, model: str) -> list[Path]:
    """app.py, requirements.txt, a README with Space metadata, and this package.

    The package is copied rather than pip-installed: the Space then runs exactly this version of
    the demo and needs no published nsmc-trainer package; only the modules the demo imports load.
    """
    if not is_hub_id(model):
        raise ServeError(f"--write_space needs --model as a Hub id (user/name), not {model}: push the model first")
    gr = import_gradio()
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        directory / "app.py": SPACE_APP.format(model=model),
        directory / "requirements.txt": space_requirements(),
        directory / "README.md": SPACE_README.format(model=model, gradio_version=gr.__version__),
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    package = Path(__file__).parent
    shutil.copytree(package, directory / package.name, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    return sorted(p for p in directory.rglob("*") if p.is_file())


def push_space(directory: Path, space_id: str, token: str | None) -> str:
    """Creates the Space (gradio SDK) if needed and uploads `directory`; returns its URL."""
    api = HfApi(token=token)
    try:
        url = api.create_repo(space_id, repo_type="space", space_sdk="gradio", exist_ok=True)
        api.upload_folder(
            repo_id=url.repo_id, repo_type="space", folder_path=directory, commit_message="nsmc-serve demo"
        )
    except Exception as err:  # huggingface_hub raises many types; the user needs the message, not the stack
        raise ServeError(f"could not push the Space {space_id} to {api.endpoint}: {err}") from err
    return str(url)
