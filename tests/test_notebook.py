"""The learner's notebook runs top to bottom, headless, on the tiny model and nsmc-mini.

Its settings cell (tagged "parameters") holds the Colab values; a cell inserted right after it
points them at the local material, as a learner would edit them.
"""

from pathlib import Path

import pytest

from conftest import NSMC_MINI, REPO, TINY_MODEL, require

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = REPO / "examples" / "nsmc_finetune.ipynb"


def local_settings(tiny_model_dir: Path, nsmc_mini: Path, work_dir: Path) -> str:
    return "\n".join(
        [
            f"MODEL_NAME = {str(tiny_model_dir)!r}",
            f"DATA_DIR = {str(nsmc_mini)!r}",
            f"OUTPUT_DIR = {str(work_dir / 'output')!r}",
            f"FEATURES_CACHE_DIR = {str(work_dir / 'features')!r}",
            "NUM_EPOCHS = 2",
            "LEARNING_RATE = 1e-3",
            "MAX_TRAIN_SAMPLES = 256",
            "MAX_EVAL_SAMPLES = 64",
            "MAX_SEQ_LENGTH = 64",
        ]
    )


def outputs_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.extend(str(value) for value in output.get("data", {}).values())
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    tiny_model_dir, nsmc_mini = require(TINY_MODEL), require(NSMC_MINI)
    work_dir = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    settings = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
    notebook.cells.insert(settings + 1, nbformat.v4.new_code_cell(local_settings(tiny_model_dir, nsmc_mini, work_dir)))
    client = nbclient.NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(work_dir)}}
    )
    with pytest.MonkeyPatch.context() as environment:
        # The kernel inherits this environment: offline, and one thread on a busy CI machine.
        for name, value in {
            "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"
        }.items():  # fmt: skip
            environment.setenv(name, value)
        client.execute()
    return notebook, work_dir


def test_every_step_of_the_notebook_runs_and_the_saved_model_predicts(executed):
    notebook, work_dir = executed
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code_cells)
    assert (work_dir / "output" / "model.safetensors").is_file()
    assert "eval_accuracy" in outputs_text(code_cells[-2])
    prediction = outputs_text(code_cells[-1])
    assert "'label'" in prediction and ("negative" in prediction or "positive" in prediction)


def test_the_colab_cells_do_nothing_outside_colab(executed):
    notebook, _ = executed
    colab_cells = [cell for cell in notebook.cells if cell.cell_type == "code" and "IN_COLAB:" in cell.source]
    assert len(colab_cells) == 2
    assert all(outputs_text(cell) == "" for cell in colab_cells)
