"""The one place that talks to the Hugging Face Hub's upload API.

Everything up to this call (folders, cards, Parquet, safetensors) is built and checked locally;
tests replace :func:`upload_folder` alone, so the code around it runs for real offline.
"""

from __future__ import annotations

import os
from typing import Literal

from huggingface_hub import HfApi

RepoType = Literal["model", "dataset"]


def upload_folder(
    folder: str | os.PathLike,
    repo_id: str,
    repo_type: RepoType,
    private: bool | None = None,
    commit_message: str | None = None,
    ignore_patterns: list[str] | None = None,
) -> str:
    """Create ``repo_id`` if needed and upload ``folder`` to it in one commit; returns its URL."""
    api = HfApi()
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=folder,
        repo_type=repo_type,
        commit_message=commit_message or "Upload with luab-hf",
        ignore_patterns=ignore_patterns,
    )
    return str(getattr(info, "commit_url", info))
