"""Progress bars on stderr for pull, unpack and scan; silent when stderr is not a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class RichProgress:
    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<8}"),
            BarColumn(),
            TextColumn("{task.fields[amount]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, tuple[TaskID, str]] = {}
        self._bytes = DownloadColumn()
        self._count = MofNCompleteColumn()

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def _amount(self, task_id: TaskID, unit: str) -> str:
        task = self._bar.tasks[task_id]
        column = self._bytes if unit == "bytes" else self._count
        return str(column.render(task))

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        task_id = self._bar.add_task(task, total=total, amount="")
        self._tasks[task] = (task_id, unit)

    def advance(self, task: str, amount: int = 1) -> None:
        if task not in self._tasks:
            self.start(task)
        task_id, unit = self._tasks[task]
        self._bar.advance(task_id, amount)
        self._bar.update(task_id, amount=self._amount(task_id, unit))

    def finish(self, task: str) -> None:
        entry = self._tasks.pop(task, None)
        if entry is not None:
            self._bar.remove_task(entry[0])
