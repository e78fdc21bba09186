"""Files a run wrote, as RunView sees them: copies in an artifacts directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

from detonate.model.runtime import ChangeKind, ContentType, FileChange


def written(artifacts: Path, texts: dict[str, str]) -> list[FileChange]:
    artifacts.mkdir(parents=True, exist_ok=True)
    changes = []
    for number, (path, text) in enumerate(texts.items()):
        data = text.encode()
        (artifacts / str(number)).write_bytes(data)
        changes.append(
            FileChange(
                path,
                ChangeKind.CREATED,
                ContentType.SCRIPT,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                artifact=str(number),
            )
        )
    return changes
